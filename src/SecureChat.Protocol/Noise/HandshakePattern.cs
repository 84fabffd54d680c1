using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// A Noise handshake pattern (Noise spec revision 34, section 7): the pre-message patterns of both
/// parties and the message patterns of the handshake, after any <c>pskN</c> modifiers (section 9.4)
/// have been applied. Immutable.
/// </summary>
public sealed class HandshakePattern
{
    private const string PskModifierPrefix = "psk";

    // The one-way (7.4), fundamental interactive (7.5) and deferred (18.1) patterns, in the spec's
    // own notation: pre-messages above "...", then one line per message; "->" is sent by the
    // initiator, "<-" by the responder.
    private static readonly FrozenDictionary<string, HandshakePattern> BasePatterns = new Dictionary<string, string>
    {
        ["N"] = """
            <- s
            ...
            -> e, es
            """,
        ["K"] = """
            -> s
            <- s
            ...
            -> e, es, ss
            """,
        ["X"] = """
            <- s
            ...
            -> e, es, s, ss
            """,
        ["NN"] = """
            -> e
            <- e, ee
            """,
        ["NK"] = """
            <- s
            ...
            -> e, es
            <- e, ee
            """,
        ["NX"] = """
            -> e
            <- e, ee, s, es
            """,
        ["KN"] = """
            -> s
            ...
            -> e
            <- e, ee, se
            """,
        ["KK"] = """
            -> s
            <- s
            ...
            -> e, es, ss
            <- e, ee, se
            """,
        ["KX"] = """
            -> s
            ...
            -> e
            <- e, ee, se, s, es
            """,
        ["XN"] = """
            -> e
            <- e, ee
            -> s, se
            """,
        ["XK"] = """
            <- s
            ...
            -> e, es
            <- e, ee
            -> s, se
            """,
        ["XX"] = """
            -> e
            <- e, ee, s, es
            -> s, se
            """,
        ["IN"] = """
            -> e, s
            <- e, ee, se
            """,
        ["IK"] = """
            <- s
            ...
            -> e, es, s, ss
            <- e, ee, se
            """,
        ["IX"] = """
            -> e, s
            <- e, ee, se, s, es
            """,
        ["NK1"] = """
            <- s
            ...
            -> e
            <- e, ee, es
            """,
        ["NX1"] = """
            -> e
            <- e, ee, s
            -> es
            """,
        ["X1N"] = """
            -> e
            <- e, ee
            -> s
            <- se
            """,
        ["X1K"] = """
            <- s
            ...
            -> e, es
            <- e, ee
            -> s
            <- se
            """,
        ["XK1"] = """
            <- s
            ...
            -> e
            <- e, ee, es
            -> s, se
            """,
        ["X1K1"] = """
            <- s
            ...
            -> e
            <- e, ee, es
            -> s
            <- se
            """,
        ["X1X"] = """
            -> e
            <- e, ee, s, es
            -> s
            <- se
            """,
        ["XX1"] = """
            -> e
            <- e, ee, s
            -> es, s, se
            """,
        ["X1X1"] = """
            -> e
            <- e, ee, s
            -> es, s
            <- se
            """,
        ["K1N"] = """
            -> s
            ...
            -> e
            <- e, ee
            -> se
            """,
        ["K1K"] = """
            -> s
            <- s
            ...
            -> e, es
            <- e, ee
            -> se
            """,
        ["KK1"] = """
            -> s
            <- s
            ...
            -> e
            <- e, ee, se, es
            """,
        ["K1K1"] = """
            -> s
            <- s
            ...
            -> e
            <- e, ee, es
            -> se
            """,
        ["K1X"] = """
            -> s
            ...
            -> e
            <- e, ee, s, es
            -> se
            """,
        ["KX1"] = """
            -> s
            ...
            -> e
            <- e, ee, se, s
            -> es
            """,
        ["K1X1"] = """
            -> s
            ...
            -> e
            <- e, ee, s
            -> se, es
            """,
        ["I1N"] = """
            -> e, s
            <- e, ee
            -> se
            """,
        ["I1K"] = """
            <- s
            ...
            -> e, es, s
            <- e, ee
            -> se
            """,
        ["IK1"] = """
            <- s
            ...
            -> e, s
            <- e, ee, se, es
            """,
        ["I1K1"] = """
            <- s
            ...
            -> e, s
            <- e, ee, es
            -> se
            """,
        ["I1X"] = """
            -> e, s
            <- e, ee, s, es
            -> se
            """,
        ["IX1"] = """
            -> e, s
            <- e, ee, se, s
            -> es
            """,
        ["I1X1"] = """
            -> e, s
            <- e, ee, s
            -> se, es
            """,
    }.ToFrozenDictionary(pair => pair.Key, pair => FromNotation(pair.Key, pair.Value), StringComparer.Ordinal);

    private HandshakePattern(
        string name,
        string baseName,
        IReadOnlyList<string> modifiers,
        IReadOnlyList<NoiseToken> initiatorPreMessage,
        IReadOnlyList<NoiseToken> responderPreMessage,
        IReadOnlyList<IReadOnlyList<NoiseToken>> messages)
    {
        Name = name;
        BaseName = baseName;
        Modifiers = modifiers;
        InitiatorPreMessage = initiatorPreMessage;
        ResponderPreMessage = responderPreMessage;
        Messages = messages;
        PreSharedKeyCount = messages.Sum(message => message.Count(token => token == NoiseToken.Psk));
    }

    /// <summary>The handshake pattern name section, e.g. <c>XXpsk3</c> or <c>NNpsk0+psk2</c>.</summary>
    public string Name { get; }

    /// <summary>The pattern name without modifiers, e.g. <c>XX</c>.</summary>
    public string BaseName { get; }

    /// <summary>The pattern modifiers in the order given, e.g. <c>psk0</c>, <c>psk2</c>.</summary>
    public IReadOnlyList<string> Modifiers { get; }

    /// <summary>The initiator's public keys that the responder knows beforehand (section 7.1).</summary>
    public IReadOnlyList<NoiseToken> InitiatorPreMessage { get; }

    /// <summary>The responder's public keys that the initiator knows beforehand (section 7.1).</summary>
    public IReadOnlyList<NoiseToken> ResponderPreMessage { get; }

    /// <summary>The message patterns; even indexes are sent by the initiator, odd by the responder.</summary>
    public IReadOnlyList<IReadOnlyList<NoiseToken>> Messages { get; }

    /// <summary>
    /// True for the one-way patterns (section 7.4): a single handshake message, after which only the
    /// initiator sends.
    /// </summary>
    public bool IsOneWay => Messages.Count == 1;

    /// <summary>Number of <c>psk</c> tokens, i.e. of pre-shared keys each party must supply (section 9).</summary>
    public int PreSharedKeyCount { get; }

    /// <summary>True when the pattern uses pre-shared keys, which changes how <c>e</c> is processed (section 9.2).</summary>
    public bool IsPreSharedKeyMode => PreSharedKeyCount > 0;

    /// <summary>Parses a handshake pattern name section such as <c>IK</c>, <c>X1K1</c> or <c>XXpsk0+psk3</c>.</summary>
    /// <exception cref="ArgumentException">The pattern or one of its modifiers is unknown or malformed.</exception>
    public static HandshakePattern Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryParse(name, out var pattern, out var error) ? pattern : throw new ArgumentException(error, nameof(name));
    }

    /// <summary>Parses a handshake pattern name section; false when it is unknown or malformed.</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out HandshakePattern? pattern) =>
        TryParse(name, out pattern, out _);

    /// <summary>True when <paramref name="initiator"/>'s side sends or pre-shares a static key, so it must be given one.</summary>
    internal bool NeedsLocalStatic(bool initiator) => PreMessage(initiator).Contains(NoiseToken.S) || Sends(initiator, NoiseToken.S);

    /// <summary>True when <paramref name="initiator"/>'s side has an ephemeral key at all, pre-message or sent.</summary>
    internal bool UsesLocalEphemeral(bool initiator) => PreMessage(initiator).Contains(NoiseToken.E) || Sends(initiator, NoiseToken.E);

    /// <summary>True when the other side's static key is a pre-message, so it must be given at initialization.</summary>
    internal bool NeedsRemoteStatic(bool initiator) => PreMessage(!initiator).Contains(NoiseToken.S);

    /// <summary>True when this side's ephemeral key is a pre-message, so it must be given at initialization.</summary>
    internal bool NeedsLocalEphemeral(bool initiator) => PreMessage(initiator).Contains(NoiseToken.E);

    /// <summary>True when the other side's ephemeral key is a pre-message, so it must be given at initialization.</summary>
    internal bool NeedsRemoteEphemeral(bool initiator) => PreMessage(!initiator).Contains(NoiseToken.E);

    internal IReadOnlyList<NoiseToken> PreMessage(bool initiator) => initiator ? InitiatorPreMessage : ResponderPreMessage;

    private bool Sends(bool initiator, NoiseToken token) =>
        Messages.Where((_, index) => index % 2 == 0 == initiator).Any(message => message.Contains(token));

    internal static bool TryParse(string? name, [NotNullWhen(true)] out HandshakePattern? pattern, out string error)
    {
        pattern = null;
        if (string.IsNullOrEmpty(name))
        {
            error = "The handshake pattern name is empty.";
            return false;
        }

        // Section 8.1: an uppercase/numeral pattern name, then modifiers; the first modifier is
        // appended directly and the others follow a '+'.
        var baseLength = 0;
        while (baseLength < name.Length && (char.IsAsciiLetterUpper(name[baseLength]) || char.IsAsciiDigit(name[baseLength])))
        {
            baseLength++;
        }

        var baseName = name[..baseLength];
        if (!BasePatterns.TryGetValue(baseName, out var basePattern))
        {
            error = $"Unknown handshake pattern '{baseName}'.";
            return false;
        }

        if (baseLength == name.Length)
        {
            pattern = basePattern;
            error = string.Empty;
            return true;
        }

        var modifiers = name[baseLength..].Split('+');
        var messages = basePattern.Messages.Select(message => message.ToList()).ToList();
        var seen = new HashSet<int>();
        foreach (var modifier in modifiers)
        {
            if (!TryParsePskModifier(modifier, out var position) || position > messages.Count || !seen.Add(position))
            {
                error = $"Unsupported or repeated pattern modifier '{modifier}' in '{name}'.";
                return false;
            }

            // Section 9.4: psk0 opens the first message; pskN closes message N.
            if (position == 0)
            {
                messages[0].Insert(0, NoiseToken.Psk);
            }
            else
            {
                messages[position - 1].Add(NoiseToken.Psk);
            }
        }

        pattern = new HandshakePattern(
            name,
            baseName,
            modifiers,
            basePattern.InitiatorPreMessage,
            basePattern.ResponderPreMessage,
            messages.Select(message => (IReadOnlyList<NoiseToken>)message.AsReadOnly()).ToList().AsReadOnly());
        error = string.Empty;
        return true;
    }

    private static bool TryParsePskModifier(string modifier, out int position)
    {
        position = 0;
        var digits = modifier.AsSpan();
        if (!digits.StartsWith(PskModifierPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        digits = digits[PskModifierPrefix.Length..];
        return digits.Length is > 0 and <= 2
            && (digits.Length == 1 || digits[0] != '0')
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out position);
    }

    private static HandshakePattern FromNotation(string name, string notation)
    {
        var initiatorPreMessage = new List<NoiseToken>();
        var responderPreMessage = new List<NoiseToken>();
        var messages = new List<IReadOnlyList<NoiseToken>>();
        var lines = notation.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var preMessageCount = Array.IndexOf(lines, "...");
        for (var i = 0; i < lines.Length; i++)
        {
            if (i == preMessageCount)
            {
                continue;
            }

            var fromInitiator = lines[i].StartsWith("->", StringComparison.Ordinal);
            var tokens = lines[i][2..]
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(ParseToken)
                .ToList();
            if (i < preMessageCount)
            {
                (fromInitiator ? initiatorPreMessage : responderPreMessage).AddRange(tokens);
            }
            else
            {
                // Section 7.1: the initiator sends the first message, then the parties alternate.
                if (fromInitiator != (messages.Count % 2 == 0))
                {
                    throw new InvalidOperationException($"Pattern {name} does not alternate.");
                }

                messages.Add(tokens.AsReadOnly());
            }
        }

        return new HandshakePattern(name, name, [], initiatorPreMessage.AsReadOnly(), responderPreMessage.AsReadOnly(), messages.AsReadOnly());
    }

    private static NoiseToken ParseToken(string token) => token switch
    {
        "e" => NoiseToken.E,
        "s" => NoiseToken.S,
        "ee" => NoiseToken.EE,
        "es" => NoiseToken.ES,
        "se" => NoiseToken.SE,
        "ss" => NoiseToken.SS,
        _ => throw new InvalidOperationException($"Unknown token '{token}' in the pattern table."),
    };

    /// <summary>The pattern name section.</summary>
    public override string ToString() => Name;
}
