using SecureChat.Protocol.Ratchet;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// Ratchet messages (header and ciphertext, docs/ratchet.md section 3) as Bob receives them: a
/// fresh Bob session with fixed keys decrypts each message of the input (behind 2-byte lengths),
/// a second apart. Seeds are real messages from Alice, in order, out of order and repeated, so
/// that skipped keys and replays are reached. A rejected message must leave the session as it was.
/// </summary>
internal sealed class RatchetTarget : IFuzzTarget
{
    internal static readonly byte[] SharedSecret = FuzzKeys.Key("ratchet shared secret");
    internal static readonly byte[] BobPrivateKey = FuzzKeys.Key("ratchet bob");
    internal static readonly byte[] AlicePrivateKey = FuzzKeys.Key("ratchet alice");
    internal static readonly byte[] AssociatedData = "fuzz: alice to bob"u8.ToArray();

    internal static readonly RatchetOptions Options = new() { MaxSkipPerChain = 50, MaxSkippedKeys = 100 };

    public string Name => "ratchet";

    public bool Run(byte[] input)
    {
        using var bob = RatchetSession.InitializeBob(SharedSecret, BobPrivateKey, AssociatedData, Options);
        var now = FuzzKeys.Now;
        var decrypted = 0;
        foreach (var message in Frames.Split(input, max: 16))
        {
            now += TimeSpan.FromSeconds(1);
            var before = bob.Export();
            var result = bob.TryDecrypt(message, now, out var plaintext);
            if (result == RatchetError.None)
            {
                FuzzInvariantException.Check(plaintext is not null, "A decrypted message without plaintext.");
                decrypted++;
                if (bob.CanSend)
                {
                    bob.Encrypt("reply"u8);
                }
            }
            else
            {
                FuzzInvariantException.Check(plaintext is null, "A rejected message with plaintext.");
                FuzzInvariantException.Check(bob.Export().AsSpan().SequenceEqual(before), $"A rejected message ({result}) changed the session.");
            }

            FuzzInvariantException.Check(bob.SkippedKeyCount <= Options.MaxSkippedKeys, "More skipped keys than the options allow.");
        }

        return decrypted > 0;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var messages = AliceMessages(6);
        yield return ("in-order", Frames.Join(messages[0], messages[1], messages[2]));
        yield return ("out-of-order", Frames.Join(messages[0], messages[3], messages[1], messages[2]));
        yield return ("replay", Frames.Join(messages[0], messages[0]));
        yield return ("gap", Frames.Join(messages[5], messages[4]));
    }

    /// <summary>The first messages Alice sends with the fixed keys.</summary>
    internal static List<byte[]> AliceMessages(int count)
    {
        using var alice = RatchetSession.InitializeAlice(SharedSecret, FuzzKeys.PublicAgreementKey(BobPrivateKey), AssociatedData, AlicePrivateKey, Options);
        return [.. Enumerable.Range(0, count).Select(i => alice.Encrypt(System.Text.Encoding.UTF8.GetBytes($"message {i} from Alice")))];
    }
}
