using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// A Noise <c>HandshakeState</c> (Noise spec revision 34, section 5.3) for any pattern that
/// <see cref="NoiseProtocol"/> parses. Sans-IO: it turns payloads into handshake messages and back,
/// and the caller moves the bytes. Not thread-safe.
/// </summary>
/// <remarks>
/// Caller misuse (wrong turn, buffers too small, missing keys) throws; hostile input never does:
/// <see cref="ReadMessage"/> returns a <see cref="NoiseReadResult"/>, and any result but
/// <see cref="NoiseReadResult.Ok"/> ends the handshake, as section 5 requires. Private keys, the
/// chaining key and pre-shared keys are wiped by <see cref="Split"/> and <see cref="Dispose"/>.
/// </remarks>
public sealed class HandshakeState : IDisposable
{
    /// <summary>The largest Noise message, handshake or transport (section 3).</summary>
    public const int MaxMessageLength = 65535;

    private const int DhLength = X25519.KeySize;

    private readonly NoiseProtocol _protocol;
    private readonly HandshakePattern _pattern;
    private readonly SymmetricState _symmetric;
    private readonly KeyPair _localStatic = new();
    private readonly KeyPair _localEphemeral = new();
    private readonly PublicKey _remoteStatic = new();
    private readonly PublicKey _remoteEphemeral = new();
    private readonly byte[][] _preSharedKeys;
    private int _nextPreSharedKey;
    private Phase _phase = Phase.Handshaking;
    private bool _disposed;

    /// <summary>
    /// Initialize (section 5.3): InitializeSymmetric(protocol name), MixHash(prologue), then the
    /// pre-message public keys, the initiator's first.
    /// </summary>
    /// <param name="protocol">The protocol both parties run.</param>
    /// <param name="initiator">True for the party that sends the first handshake message.</param>
    /// <param name="prologue">Context both parties must agree on (section 6); it is hashed, not sent.</param>
    /// <param name="localStaticPrivateKey">This party's static X25519 private key; required exactly when the pattern sends or pre-shares it.</param>
    /// <param name="remoteStaticPublicKey">The other party's static public key; required exactly when the pattern has it as a pre-message (e.g. the responder's in IK).</param>
    /// <param name="preSharedKeys">One 32-byte key per <c>psk</c> token, in order (section 9); required exactly for psk patterns.</param>
    /// <param name="localEphemeralPrivateKey">
    /// A fixed ephemeral private key, for test vectors only: reusing an ephemeral key destroys the
    /// handshake's security. Also the ephemeral of a pattern with this party's <c>e</c> as a pre-message.
    /// </param>
    /// <param name="remoteEphemeralPublicKey">The other party's ephemeral public key, for patterns with it as a pre-message.</param>
    /// <exception cref="ArgumentException">A key is missing, unexpected for the pattern, of the wrong size, or (for public keys) of small order.</exception>
    public HandshakeState(
        NoiseProtocol protocol,
        bool initiator,
        ReadOnlySpan<byte> prologue,
        ReadOnlySpan<byte> localStaticPrivateKey = default,
        ReadOnlySpan<byte> remoteStaticPublicKey = default,
        IReadOnlyList<byte[]>? preSharedKeys = null,
        ReadOnlySpan<byte> localEphemeralPrivateKey = default,
        ReadOnlySpan<byte> remoteEphemeralPublicKey = default)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        _protocol = protocol;
        _pattern = protocol.Pattern;
        IsInitiator = initiator;

        var localStaticAllowed = _pattern.NeedsLocalStatic(initiator);
        var localEphemeralAllowed = _pattern.UsesLocalEphemeral(initiator);
        CheckKeyPresence(localStaticPrivateKey, localStaticAllowed, localStaticAllowed, nameof(localStaticPrivateKey));
        CheckKeyPresence(remoteStaticPublicKey, _pattern.NeedsRemoteStatic(initiator), _pattern.NeedsRemoteStatic(initiator), nameof(remoteStaticPublicKey));
        CheckKeyPresence(localEphemeralPrivateKey, _pattern.NeedsLocalEphemeral(initiator), localEphemeralAllowed, nameof(localEphemeralPrivateKey));
        CheckKeyPresence(remoteEphemeralPublicKey, _pattern.NeedsRemoteEphemeral(initiator), _pattern.NeedsRemoteEphemeral(initiator), nameof(remoteEphemeralPublicKey));
        CheckRemoteKey(remoteStaticPublicKey, nameof(remoteStaticPublicKey));
        CheckRemoteKey(remoteEphemeralPublicKey, nameof(remoteEphemeralPublicKey));
        _preSharedKeys = CopyPreSharedKeys(preSharedKeys, _pattern.PreSharedKeyCount);

        _symmetric = new SymmetricState(protocol);
        try
        {
            if (!localStaticPrivateKey.IsEmpty)
            {
                _localStatic.Set(localStaticPrivateKey);
            }

            if (!localEphemeralPrivateKey.IsEmpty)
            {
                _localEphemeral.Set(localEphemeralPrivateKey);
            }

            if (!remoteStaticPublicKey.IsEmpty)
            {
                _remoteStatic.Set(remoteStaticPublicKey);
            }

            if (!remoteEphemeralPublicKey.IsEmpty)
            {
                _remoteEphemeral.Set(remoteEphemeralPublicKey);
            }

            _symmetric.MixHash(prologue);
            MixPreMessage(_pattern.InitiatorPreMessage, initiator);
            MixPreMessage(_pattern.ResponderPreMessage, !initiator);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private enum Phase
    {
        Handshaking,
        Failed,
        Split,
    }

    /// <summary>The protocol this handshake runs.</summary>
    public NoiseProtocol Protocol => _protocol;

    /// <summary>True for the party that sends the first handshake message.</summary>
    public bool IsInitiator { get; }

    /// <summary>True when the next step is <see cref="WriteMessage"/> for this party.</summary>
    public bool IsMyTurnToWrite => _phase == Phase.Handshaking && !IsHandshakeComplete && (MessageIndex % 2 == 0) == IsInitiator;

    /// <summary>True once every message pattern has been written or read; then call <see cref="Split"/>.</summary>
    public bool IsHandshakeComplete => MessageIndex == _pattern.Messages.Count;

    /// <summary>The number of handshake messages written or read so far.</summary>
    public int MessageIndex { get; private set; }

    /// <summary>
    /// The handshake hash h (section 5.2). It commits to everything so far; only its value after
    /// completion is final and suitable for channel binding (section 11.2).
    /// </summary>
    public ReadOnlySpan<byte> HandshakeHash
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _symmetric.HandshakeHash;
        }
    }

    /// <summary>The other party's static public key: empty until it is known (pre-message or received).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _remoteStatic.IsSet ? _remoteStatic.Value : [];
        }
    }

    /// <summary>
    /// The exact length of the next handshake message for a payload of <paramref name="payloadLength"/>
    /// bytes: its public keys, 16 bytes per encrypted field, and the payload.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handshake is complete, failed or disposed.</exception>
    public int GetMaxMessageLength(int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ThrowIfNotHandshaking();
        return MessageOverhead() + payloadLength;
    }

    /// <summary>
    /// WriteMessage (section 5.3): processes the next message pattern and writes the message, ending
    /// with the payload (encrypted once a key exists).
    /// </summary>
    /// <returns>The number of bytes written, equal to <see cref="GetMaxMessageLength"/>.</returns>
    /// <exception cref="InvalidOperationException">It is not this party's turn, or the handshake is complete, failed or disposed.</exception>
    /// <exception cref="ArgumentException">
    /// The message would exceed 65535 bytes, <paramref name="message"/> is too small, or the buffers overlap.
    /// </exception>
    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        ThrowIfNotHandshaking();
        if (!IsMyTurnToWrite)
        {
            throw new InvalidOperationException("It is the other party's turn to send a handshake message.");
        }

        var length = MessageOverhead() + payload.Length;
        if (length > MaxMessageLength)
        {
            throw new ArgumentException($"The handshake message would be {length} bytes; Noise allows {MaxMessageLength}.", nameof(payload));
        }

        if (message.Length < length)
        {
            throw new ArgumentException($"The message buffer needs {length} bytes, it has {message.Length}.", nameof(message));
        }

        if (payload.Overlaps(message))
        {
            throw new ArgumentException("The payload and message buffers must not overlap.", nameof(message));
        }

        try
        {
            var offset = 0;
            foreach (var token in _pattern.Messages[MessageIndex])
            {
                offset += WriteToken(token, message[offset..]);
            }

            offset += _symmetric.EncryptAndHash(payload, message[offset..]);
            MessageIndex++;
            return offset;
        }
        catch
        {
            Fail();
            throw;
        }
    }

    /// <summary>
    /// ReadMessage (section 5.3): processes the next message pattern against <paramref name="message"/>
    /// and writes its payload. Never throws for hostile input: any result but <see cref="NoiseReadResult.Ok"/>
    /// clears <paramref name="payload"/> and ends the handshake (later calls throw).
    /// </summary>
    /// <param name="message">The handshake message as received.</param>
    /// <param name="payload">
    /// Receives the payload; it needs <c>message.Length</c> minus this message's overhead, so
    /// <c>message.Length</c> bytes always suffice. Must not overlap <paramref name="message"/>.
    /// </param>
    /// <param name="payloadLength">The payload's length; 0 unless the result is <see cref="NoiseReadResult.Ok"/>.</param>
    /// <exception cref="InvalidOperationException">It is this party's turn to write, or the handshake is complete, failed or disposed.</exception>
    /// <exception cref="ArgumentException"><paramref name="payload"/> is too small for this message or overlaps it.</exception>
    public NoiseReadResult ReadMessage(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        ThrowIfNotHandshaking();
        if (IsMyTurnToWrite)
        {
            throw new InvalidOperationException("It is this party's turn to send a handshake message.");
        }

        if (payload.Overlaps(message))
        {
            throw new ArgumentException("The payload and message buffers must not overlap.", nameof(payload));
        }

        var overhead = MessageOverhead();
        if (message.Length > MaxMessageLength || message.Length < overhead)
        {
            return Reject(NoiseReadResult.Malformed, payload);
        }

        if (payload.Length < message.Length - overhead)
        {
            throw new ArgumentException($"The payload buffer needs {message.Length - overhead} bytes, it has {payload.Length}.", nameof(payload));
        }

        try
        {
            var offset = 0;
            foreach (var token in _pattern.Messages[MessageIndex])
            {
                var result = ReadToken(token, message[offset..], out var consumed);
                if (result != NoiseReadResult.Ok)
                {
                    return Reject(result, payload);
                }

                offset += consumed;
            }

            if (!_symmetric.TryDecryptAndHash(message[offset..], payload, out payloadLength))
            {
                return Reject(NoiseReadResult.AuthenticationFailed, payload);
            }

            MessageIndex++;
            return NoiseReadResult.Ok;
        }
        catch
        {
            payload.Clear();
            payloadLength = 0;
            Fail();
            throw;
        }
    }

    /// <summary>
    /// Split (section 5.2): derives the transport keys, oriented for this party, and wipes the
    /// handshake's secrets. <see cref="HandshakeHash"/> stays readable.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handshake is not complete, failed, was already split, or is disposed.</exception>
    public NoiseTransport Split()
    {
        ThrowIfEnded();
        if (!IsHandshakeComplete)
        {
            throw new InvalidOperationException("The handshake is not complete.");
        }

        var (initiatorToResponder, responderToInitiator, exporter) = _symmetric.Split();
        NoiseTransport transport;
        if (_pattern.IsOneWay)
        {
            // Section 7.4: after a one-way pattern only the initiator sends, with the first
            // CipherState; the second is discarded.
            responderToInitiator.Dispose();
            const string Reason = "A one-way Noise pattern only carries transport messages from the initiator to the responder (section 7.4).";
            transport = IsInitiator
                ? new NoiseTransport(initiatorToResponder, CipherState.CreateUnusable(_protocol.Cipher, Reason), _symmetric.HandshakeHash, exporter)
                : new NoiseTransport(CipherState.CreateUnusable(_protocol.Cipher, Reason), initiatorToResponder, _symmetric.HandshakeHash, exporter);
        }
        else
        {
            transport = IsInitiator
                ? new NoiseTransport(initiatorToResponder, responderToInitiator, _symmetric.HandshakeHash, exporter)
                : new NoiseTransport(responderToInitiator, initiatorToResponder, _symmetric.HandshakeHash, exporter);
        }

        _phase = Phase.Split;
        WipeSecrets();
        return transport;
    }

    /// <summary>Wipes every secret this handshake holds.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            WipeSecrets();
            _disposed = true;
        }
    }

    private static void CheckKeyPresence(ReadOnlySpan<byte> key, bool required, bool allowed, string name)
    {
        if (key.IsEmpty && required)
        {
            throw new ArgumentException("The handshake pattern needs this key.", name);
        }

        if (!key.IsEmpty && !allowed)
        {
            throw new ArgumentException("The handshake pattern does not use this key here.", name);
        }

        if (!key.IsEmpty && key.Length != X25519.KeySize)
        {
            throw new ArgumentException($"An X25519 key is {X25519.KeySize} bytes, not {key.Length}.", name);
        }
    }

    private static void CheckRemoteKey(ReadOnlySpan<byte> key, string name)
    {
        if (!key.IsEmpty && !X25519.IsValidPublicKey(key))
        {
            throw new ArgumentException("The public key is a point of small order.", name);
        }
    }

    private static byte[][] CopyPreSharedKeys(IReadOnlyList<byte[]>? preSharedKeys, int count)
    {
        var given = preSharedKeys?.Count ?? 0;
        if (given != count)
        {
            throw new ArgumentException($"The handshake pattern has {count} psk token(s); {given} pre-shared key(s) were given.", nameof(preSharedKeys));
        }

        var copies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var key = preSharedKeys![i];
            if (key is null || key.Length != CipherState.KeySize)
            {
                throw new ArgumentException($"A pre-shared key is {CipherState.KeySize} bytes (section 9).", nameof(preSharedKeys));
            }

            copies[i] = (byte[])key.Clone();
        }

        return copies;
    }

    // Section 5.3 pre-messages, with the section 9.2 rule that in psk mode every "e" also MixKeys.
    private void MixPreMessage(IReadOnlyList<NoiseToken> preMessage, bool local)
    {
        foreach (var token in preMessage)
        {
            switch (token)
            {
                case NoiseToken.E:
                    MixEphemeral(local ? _localEphemeral.Public : _remoteEphemeral.Value);
                    break;
                case NoiseToken.S:
                    _symmetric.MixHash(local ? _localStatic.Public : _remoteStatic.Value);
                    break;
                default:
                    throw new InvalidOperationException($"Token {token} cannot be a pre-message.");
            }
        }
    }

    private void MixEphemeral(ReadOnlySpan<byte> ephemeralPublicKey)
    {
        _symmetric.MixHash(ephemeralPublicKey);
        if (_pattern.IsPreSharedKeyMode)
        {
            _symmetric.MixKey(ephemeralPublicKey);
        }
    }

    // The length of the next message without its payload: DHLEN per public key, and 16 bytes for
    // each field encrypted under a key (the static key and the payload), as section 3 describes.
    private int MessageOverhead()
    {
        var hasKey = _symmetric.HasKey;
        var length = 0;
        foreach (var token in _pattern.Messages[MessageIndex])
        {
            switch (token)
            {
                case NoiseToken.E:
                    length += DhLength;
                    hasKey |= _pattern.IsPreSharedKeyMode;
                    break;
                case NoiseToken.S:
                    length += DhLength + (hasKey ? CipherState.TagSize : 0);
                    break;
                default:
                    hasKey = true;
                    break;
            }
        }

        return length + (hasKey ? CipherState.TagSize : 0);
    }

    private int WriteToken(NoiseToken token, Span<byte> output)
    {
        switch (token)
        {
            case NoiseToken.E:
                if (!_localEphemeral.IsSet)
                {
                    _localEphemeral.Generate();
                }

                _localEphemeral.Public.CopyTo(output);
                MixEphemeral(_localEphemeral.Public);
                return DhLength;
            case NoiseToken.S:
                return _symmetric.EncryptAndHash(_localStatic.Public, output);
            case NoiseToken.Psk:
                MixPreSharedKey();
                return 0;
            default:
                if (!TryMixDh(token))
                {
                    // Unreachable: every remote key was checked for small order when it arrived.
                    throw new CryptographicException("X25519 produced the all-zero output.");
                }

                return 0;
        }
    }

    private NoiseReadResult ReadToken(NoiseToken token, ReadOnlySpan<byte> input, out int consumed)
    {
        consumed = 0;
        switch (token)
        {
            case NoiseToken.E:
                consumed = DhLength;
                var ephemeral = input[..DhLength];
                if (!X25519.IsValidPublicKey(ephemeral))
                {
                    return NoiseReadResult.InvalidKey;
                }

                _remoteEphemeral.Set(ephemeral);
                MixEphemeral(ephemeral);
                return NoiseReadResult.Ok;
            case NoiseToken.S:
                consumed = DhLength + (_symmetric.HasKey ? CipherState.TagSize : 0);
                Span<byte> remoteStatic = stackalloc byte[DhLength];
                if (!_symmetric.TryDecryptAndHash(input[..consumed], remoteStatic, out _))
                {
                    return NoiseReadResult.AuthenticationFailed;
                }

                if (!X25519.IsValidPublicKey(remoteStatic))
                {
                    return NoiseReadResult.InvalidKey;
                }

                _remoteStatic.Set(remoteStatic);
                return NoiseReadResult.Ok;
            case NoiseToken.Psk:
                MixPreSharedKey();
                return NoiseReadResult.Ok;
            default:
                return TryMixDh(token) ? NoiseReadResult.Ok : NoiseReadResult.InvalidKey;
        }
    }

    private void MixPreSharedKey()
    {
        // Section 9.2: the "psk" token is MixKeyAndHash(psk); each key is used once, then wiped.
        var key = _preSharedKeys[_nextPreSharedKey++];
        _symmetric.MixKeyAndHash(key);
        CryptographicOperations.ZeroMemory(key);
    }

    // Section 5.3: "ee" = DH(e, re); "es" = DH(e, rs) for the initiator, DH(s, re) for the
    // responder; "se" the mirror image; "ss" = DH(s, rs). Then MixKey(the DH output).
    private bool TryMixDh(NoiseToken token)
    {
        var (local, remote) = token switch
        {
            NoiseToken.EE => (_localEphemeral, _remoteEphemeral),
            NoiseToken.ES => IsInitiator ? (_localEphemeral, _remoteStatic) : (_localStatic, _remoteEphemeral),
            NoiseToken.SE => IsInitiator ? (_localStatic, _remoteEphemeral) : (_localEphemeral, _remoteStatic),
            NoiseToken.SS => (_localStatic, _remoteStatic),
            _ => throw new InvalidOperationException($"Token {token} is not a DH."),
        };
        if (!local.IsSet || !remote.IsSet)
        {
            throw new InvalidOperationException($"Pattern {_pattern.Name} performs {token} before both keys are known.");
        }

        Span<byte> sharedSecret = stackalloc byte[DhLength];
        try
        {
            if (!X25519.TryAgree(local.Private, remote.Value, sharedSecret))
            {
                return false;
            }

            _symmetric.MixKey(sharedSecret);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    private NoiseReadResult Reject(NoiseReadResult result, Span<byte> payload)
    {
        payload.Clear();
        Fail();
        return result;
    }

    private void Fail()
    {
        _phase = Phase.Failed;
        WipeSecrets();
    }

    private void WipeSecrets()
    {
        _localStatic.Dispose();
        _localEphemeral.Dispose();
        foreach (var key in _preSharedKeys)
        {
            CryptographicOperations.ZeroMemory(key);
        }

        _symmetric.Dispose();
    }

    private void ThrowIfNotHandshaking()
    {
        ThrowIfEnded();
        if (IsHandshakeComplete)
        {
            throw new InvalidOperationException("The handshake is complete; call Split.");
        }
    }

    private void ThrowIfEnded()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        switch (_phase)
        {
            case Phase.Failed:
                throw new InvalidOperationException("The handshake failed; start a new one.");
            case Phase.Split:
                throw new InvalidOperationException("The handshake is over: it has been split into transport keys.");
        }
    }

    /// <summary>An X25519 key pair whose private half is wiped on Dispose.</summary>
    private sealed class KeyPair : IDisposable
    {
        private readonly byte[] _private = new byte[X25519.KeySize];
        private readonly byte[] _public = new byte[X25519.KeySize];

        public bool IsSet { get; private set; }

        public ReadOnlySpan<byte> Private => _private;

        public ReadOnlySpan<byte> Public => _public;

        public void Set(ReadOnlySpan<byte> privateKey)
        {
            privateKey.CopyTo(_private);
            X25519.DerivePublicKey(_private, _public);
            IsSet = true;
        }

        public void Generate()
        {
            X25519.GenerateKeyPair(_private, _public);
            IsSet = true;
        }

        public void Dispose()
        {
            CryptographicOperations.ZeroMemory(_private);
            IsSet = false;
        }
    }

    /// <summary>A remote public key, empty until known.</summary>
    private sealed class PublicKey
    {
        private readonly byte[] _value = new byte[X25519.KeySize];

        public bool IsSet { get; private set; }

        public ReadOnlySpan<byte> Value => _value;

        public void Set(ReadOnlySpan<byte> value)
        {
            value.CopyTo(_value);
            IsSet = true;
        }
    }
}
