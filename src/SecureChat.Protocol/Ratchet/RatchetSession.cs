using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// One side of a Double Ratchet conversation (Signal's Double Ratchet specification, revision 4),
/// with SecureChat's choice of functions, header and state format (docs/ratchet.md). It does no
/// I/O and reads no clock: the caller moves messages, passes the time, and persists
/// <see cref="Export"/>. Not thread-safe. Section numbers in these comments are the
/// specification's.
/// </summary>
/// <remarks>
/// Alice is the side that sends first; she knows Bob's ratchet public key. Bob holds the matching
/// private key and can send once he has decrypted a message from Alice. A received message is
/// decrypted on a copy of the state, which replaces the state only if the message authenticates,
/// so a rejected message changes nothing.
/// </remarks>
public sealed class RatchetSession : IDisposable
{
    /// <summary>Size of the shared secret and of the ratchet keys, in bytes.</summary>
    public const int KeySize = 32;

    /// <summary>The most associated data a session binds its messages to, in bytes.</summary>
    public const int MaxAssociatedDataSize = 1024;

    private readonly byte[] _associatedData;
    private readonly SkippedMessageKeys _skipped;
    private readonly RatchetOptions _options;
    private RatchetState _state;
    private bool _disposed;

    private RatchetSession(RatchetState state, SkippedMessageKeys skipped, byte[] associatedData, RatchetOptions options)
    {
        _state = state;
        _skipped = skipped;
        _associatedData = associatedData;
        _options = options;
    }

    /// <summary>
    /// True when this side can <see cref="Encrypt"/>: Alice from the start, Bob after his first
    /// successful <see cref="TryDecrypt"/>; false once disposed or its sending chain is exhausted.
    /// </summary>
    public bool CanSend => !_disposed && _state.SendingChainKey is not null && _state.SendingCount <= RatchetHeader.MaxMessageNumber;

    /// <summary>How many skipped message keys are held (including any that have expired but not yet been deleted).</summary>
    public int SkippedKeyCount => _skipped.Count;

    /// <summary>
    /// RatchetInitAlice (section 3.3): a session for the side that sends first, with a fresh ratchet
    /// key pair.
    /// </summary>
    /// <param name="sharedSecret">SK, the <see cref="KeySize"/>-byte secret both sides agreed on.</param>
    /// <param name="bobRatchetPublicKey">Bob's ratchet public key, <see cref="KeySize"/> bytes.</param>
    /// <param name="associatedData">
    /// Bound to every message (for example both identities); at most <see cref="MaxAssociatedDataSize"/>
    /// bytes, and the same on both sides.
    /// </param>
    /// <param name="options">Local policy; <see cref="RatchetOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">
    /// A key has the wrong size, <paramref name="bobRatchetPublicKey"/> is a point of small order
    /// (check received keys with <see cref="X25519.IsValidPublicKey"/>), or the associated data is too long.
    /// </exception>
    public static RatchetSession InitializeAlice(
        ReadOnlySpan<byte> sharedSecret,
        ReadOnlySpan<byte> bobRatchetPublicKey,
        ReadOnlySpan<byte> associatedData,
        RatchetOptions? options = null)
    {
        Span<byte> alicePrivateKey = stackalloc byte[KeySize];
        Span<byte> alicePublicKey = stackalloc byte[KeySize];
        try
        {
            X25519.GenerateKeyPair(alicePrivateKey, alicePublicKey);
            return InitializeAlice(sharedSecret, bobRatchetPublicKey, associatedData, alicePrivateKey, options);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(alicePrivateKey);
        }
    }

    /// <summary>
    /// RatchetInitBob (section 3.3): a session for the side that receives first. Bob cannot send
    /// until he has decrypted Alice's first message.
    /// </summary>
    /// <param name="sharedSecret">SK, the <see cref="KeySize"/>-byte secret both sides agreed on.</param>
    /// <param name="bobRatchetPrivateKey">The private key whose public key Bob gave Alice; copied, the caller wipes its own copy.</param>
    /// <param name="associatedData">The same associated data as Alice's, at most <see cref="MaxAssociatedDataSize"/> bytes.</param>
    /// <param name="options">Local policy; <see cref="RatchetOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A key has the wrong size, or the associated data is too long.</exception>
    public static RatchetSession InitializeBob(
        ReadOnlySpan<byte> sharedSecret,
        ReadOnlySpan<byte> bobRatchetPrivateKey,
        ReadOnlySpan<byte> associatedData,
        RatchetOptions? options = null)
    {
        CheckKeySize(sharedSecret, nameof(sharedSecret));
        CheckKeySize(bobRatchetPrivateKey, nameof(bobRatchetPrivateKey));
        CheckAssociatedData(associatedData);
        var state = RatchetState.CreateBob(sharedSecret, bobRatchetPrivateKey);
        return new RatchetSession(state, new SkippedMessageKeys(), associatedData.ToArray(), options ?? RatchetOptions.Default);
    }

    /// <summary>
    /// Parses <see cref="Export"/> output (docs/ratchet.md, section 5). Null if the bytes are not a
    /// valid state: truncated, too long, of another version or internally inconsistent. Never throws
    /// for any input, and allocates no more than the input's size justifies. If the state holds more
    /// skipped keys than <paramref name="options"/> allow, the oldest are dropped.
    /// </summary>
    public static RatchetSession? Import(ReadOnlySpan<byte> state, RatchetOptions? options = null)
    {
        options ??= RatchetOptions.Default;
        if (!RatchetStateFormat.TryRead(state, options.MaxSkippedKeys, out var ratchetState, out var skipped, out var associatedData))
        {
            return null;
        }

        return new RatchetSession(ratchetState, skipped, associatedData, options);
    }

    /// <summary>
    /// RatchetEncrypt (section 3.4): encrypts one message and advances the sending chain. The
    /// result is the 41-byte header, the ciphertext and the 16-byte tag (docs/ratchet.md, section 3).
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// This side cannot send yet (<see cref="CanSend"/> is false), or its sending chain has carried
    /// 2^32-1 messages. Only a message carrying a new ratchet key of this side makes the peer start
    /// a new chain back, so an exhausted session can still receive but never send again.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    public byte[] Encrypt(ReadOnlySpan<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_state.SendingChainKey is null)
        {
            throw new InvalidOperationException("This side cannot send before it has decrypted the first message from the other side.");
        }

        if (_state.SendingCount > RatchetHeader.MaxMessageNumber)
        {
            throw new InvalidOperationException("This session has sent 2^32-1 messages in one chain and cannot send any more: start a new session.");
        }

        var header = new RatchetHeader(_state.SendingPublicKey, _state.PreviousSendingCount, _state.SendingCount);
        var message = new byte[RatchetHeader.Size + plaintext.Length + RatchetFunctions.TagSize];
        header.WriteTo(message);
        Span<byte> associatedData = stackalloc byte[_associatedData.Length + RatchetHeader.Size];
        WriteMessageAssociatedData(message, associatedData);
        Span<byte> messageKey = stackalloc byte[RatchetFunctions.KeySize];
        try
        {
            _state.StepSendingChain(messageKey);
            RatchetFunctions.Encrypt(messageKey, plaintext, associatedData, message.AsSpan(RatchetHeader.Size));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(messageKey);
        }

        return message;
    }

    /// <summary>
    /// RatchetDecrypt (section 3.5): decrypts one message, which may arrive late, out of order or
    /// not at all. Works on a copy of the state and commits it only if the message authenticates;
    /// then it also deletes the skipped keys older than <see cref="RatchetOptions.SkippedKeyLifetime"/>
    /// at <paramref name="now"/>, and stores the keys of skipped messages stamped with <paramref name="now"/>.
    /// </summary>
    /// <param name="message">An encoded ratchet message from the other side.</param>
    /// <param name="now">The current time; the session reads no clock.</param>
    /// <param name="plaintext">The plaintext, or null unless the result is <see cref="RatchetError.None"/>.</param>
    /// <returns>
    /// <see cref="RatchetError.None"/>, or why the message was rejected; a rejected message leaves
    /// the session exactly as it was (the same <see cref="Export"/> bytes). A message decrypted once
    /// is rejected as <see cref="RatchetError.Unauthenticated"/> when it comes again: its key is gone.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    public RatchetError TryDecrypt(ReadOnlySpan<byte> message, DateTimeOffset now, out byte[]? plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        plaintext = null;
        if (!RatchetHeader.TryRead(message, out var header))
        {
            return RatchetError.Malformed;
        }

        // A key is checked (an agreement with it) when it first comes; the current chain's was.
        if (header.PublicKey != _state.ReceivingPublicKey)
        {
            Span<byte> headerKey = stackalloc byte[KeySize];
            header.PublicKey.CopyTo(headerKey);
            if (!X25519.IsValidPublicKey(headerKey))
            {
                return RatchetError.InvalidKey;
            }
        }

        Span<byte> associatedData = stackalloc byte[_associatedData.Length + RatchetHeader.Size];
        WriteMessageAssociatedData(message, associatedData);
        var ciphertext = message[RatchetHeader.Size..];
        var output = new byte[ciphertext.Length - RatchetFunctions.TagSize];
        var result = _skipped.TryFind(header.PublicKey, header.MessageNumber, now, _options.SkippedKeyLifetime, out var skippedKey)
            ? OpenWithSkippedKey(skippedKey, ciphertext, associatedData, output)
            : OpenWithChain(header, ciphertext, associatedData, now, output);
        if (result != RatchetError.None)
        {
            return result;
        }

        _skipped.RemoveExpired(now, _options.SkippedKeyLifetime);
        plaintext = output;
        return RatchetError.None;
    }

    /// <summary>
    /// Deletes the skipped message keys older than <see cref="RatchetOptions.SkippedKeyLifetime"/>
    /// at <paramref name="now"/>, as every successful <see cref="TryDecrypt"/> does. For a session
    /// that receives nothing for a long time, so that its stored state stops holding old keys.
    /// </summary>
    /// <returns>How many keys were deleted.</returns>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    public int ExpireSkippedKeys(DateTimeOffset now)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _skipped.RemoveExpired(now, _options.SkippedKeyLifetime);
    }

    /// <summary>
    /// The whole state, options aside, in the format of docs/ratchet.md section 5, for the caller
    /// to seal and persist. It contains every secret of the session: the caller wipes it
    /// (<see cref="CryptographicOperations.ZeroMemory"/>) once sealed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    public byte[] Export()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return RatchetStateFormat.Write(_state, _skipped, _associatedData);
    }

    /// <summary>Wipes every key; the session cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _state.Dispose();
            _skipped.Dispose();
            _disposed = true;
        }
    }

    /// <summary>
    /// RatchetInitAlice with a given ratchet private key instead of a fresh one, so that tests and
    /// the test vector of docs/ratchet.md can reproduce Alice's first message byte for byte.
    /// </summary>
    internal static RatchetSession InitializeAlice(
        ReadOnlySpan<byte> sharedSecret,
        ReadOnlySpan<byte> bobRatchetPublicKey,
        ReadOnlySpan<byte> associatedData,
        ReadOnlySpan<byte> aliceRatchetPrivateKey,
        RatchetOptions? options = null)
    {
        CheckKeySize(sharedSecret, nameof(sharedSecret));
        CheckKeySize(bobRatchetPublicKey, nameof(bobRatchetPublicKey));
        CheckKeySize(aliceRatchetPrivateKey, nameof(aliceRatchetPrivateKey));
        CheckAssociatedData(associatedData);
        var state = X25519.IsValidPublicKey(bobRatchetPublicKey)
            ? RatchetState.TryCreateAlice(sharedSecret, RatchetPublicKey.Read(bobRatchetPublicKey), aliceRatchetPrivateKey)
            : null;
        if (state is null)
        {
            throw new ArgumentException("Bob's ratchet public key is a point of small order.", nameof(bobRatchetPublicKey));
        }

        return new RatchetSession(state, new SkippedMessageKeys(), associatedData.ToArray(), options ?? RatchetOptions.Default);
    }

    // TrySkippedMessageKeys: a late message whose key was stored when a later one arrived. The
    // key is deleted only if it opens the message, so a forgery cannot delete it.
    private RatchetError OpenWithSkippedKey(SkippedMessageKey key, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, Span<byte> output)
    {
        if (!RatchetFunctions.TryDecrypt(key.Key, ciphertext, associatedData, output))
        {
            return RatchetError.Unauthenticated;
        }

        _skipped.Remove(key.Chain, key.MessageNumber);
        return RatchetError.None;
    }

    // The rest of RatchetDecrypt, on a copy of the state that replaces it only if the message
    // authenticates; the keys skipped on the way join the table only then.
    private RatchetError OpenWithChain(RatchetHeader header, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, DateTimeOffset now, Span<byte> output)
    {
        var next = _state.Clone();
        var newlySkipped = new List<SkippedMessageKey>();
        Span<byte> messageKey = stackalloc byte[RatchetFunctions.KeySize];
        try
        {
            var error = Advance(next, header, now, newlySkipped);
            if (error != RatchetError.None)
            {
                return error;
            }

            next.StepReceivingChain(messageKey);
            if (!RatchetFunctions.TryDecrypt(messageKey, ciphertext, associatedData, output))
            {
                return RatchetError.Unauthenticated;
            }

            (_state, next) = (next, _state);
            foreach (var key in newlySkipped)
            {
                _skipped.Add(key, _options.MaxSkippedKeys);
            }

            newlySkipped.Clear();
            return RatchetError.None;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(messageKey);
            next.Dispose();
            foreach (var key in newlySkipped)
            {
                key.Dispose();
            }
        }
    }

    // Everything RatchetDecrypt does before the final KDF_CK: a DH ratchet step if the header
    // names a new ratchet key (skipping the rest of the old receiving chain first), then skipping
    // to message n. Bounds are checked before any key is derived, so hostile headers cost little.
    private RatchetError Advance(RatchetState next, RatchetHeader header, DateTimeOffset now, List<SkippedMessageKey> newlySkipped)
    {
        var maxSkip = (long)_options.MaxSkipPerChain;
        if (header.PublicKey != next.ReceivingPublicKey)
        {
            var hasChain = next.ReceivingChainKey is not null;
            if ((hasChain && (long)header.PreviousChainLength - next.ReceivingCount > maxSkip) || header.MessageNumber > maxSkip)
            {
                return RatchetError.TooManySkipped;
            }

            if (hasChain)
            {
                SkipMessageKeys(next, header.PreviousChainLength, now, newlySkipped);
            }

            if (!next.TryRatchet(header.PublicKey))
            {
                return RatchetError.InvalidKey;
            }
        }
        else if (next.ReceivingChainKey is null || header.MessageNumber < next.ReceivingCount)
        {
            // Alice has no chain for Bob's initial key, and a number below Nr was either decrypted
            // already or skipped and then used, evicted or expired: no key for it exists any more.
            return RatchetError.Unauthenticated;
        }
        else if ((long)header.MessageNumber - next.ReceivingCount > maxSkip)
        {
            return RatchetError.TooManySkipped;
        }

        SkipMessageKeys(next, header.MessageNumber, now, newlySkipped);
        return RatchetError.None;
    }

    // SkipMessageKeys (section 3.5): derives and keeps the keys of messages Nr .. until-1.
    private static void SkipMessageKeys(RatchetState next, uint until, DateTimeOffset now, List<SkippedMessageKey> newlySkipped)
    {
        var chain = next.ReceivingPublicKey!.Value;
        while (next.ReceivingCount < until)
        {
            var messageNumber = next.ReceivingCount;
            var messageKey = new byte[RatchetFunctions.KeySize];
            next.StepReceivingChain(messageKey);
            newlySkipped.Add(new SkippedMessageKey(chain, messageNumber, messageKey, now));
        }
    }

    // AD for the AEAD: the session's associated data, then the encoded header (section 3.4:
    // CONCAT(AD, header)).
    private void WriteMessageAssociatedData(ReadOnlySpan<byte> message, Span<byte> destination)
    {
        _associatedData.CopyTo(destination);
        message[..RatchetHeader.Size].CopyTo(destination[_associatedData.Length..]);
    }

    private static void CheckKeySize(ReadOnlySpan<byte> key, string name)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"Expected {KeySize} bytes, got {key.Length}.", name);
        }
    }

    private static void CheckAssociatedData(ReadOnlySpan<byte> associatedData)
    {
        if (associatedData.Length > MaxAssociatedDataSize)
        {
            throw new ArgumentException($"The associated data is {associatedData.Length} bytes; the most a session takes is {MaxAssociatedDataSize}.", nameof(associatedData));
        }
    }
}
