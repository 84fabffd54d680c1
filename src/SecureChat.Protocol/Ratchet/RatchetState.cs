using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// The state variables of the Double Ratchet specification (section 3.2) other than MKSKIPPED,
/// which <see cref="SkippedMessageKeys"/> holds, and the steps that change them. Small enough to
/// copy whole for each received message, so that decryption works on a copy and commits it only if
/// the message authenticates. Every secret array is owned by this instance, overwritten in place
/// or wiped when it changes, and wiped on <see cref="Dispose"/>.
/// </summary>
internal sealed class RatchetState : IDisposable
{
    private byte[] _sendingPrivateKey;

    /// <summary>Takes the arrays without copying; they belong to this instance from now on.</summary>
    public RatchetState(
        byte[] ownedSendingPrivateKey,
        RatchetPublicKey sendingPublicKey,
        RatchetPublicKey? receivingPublicKey,
        byte[] ownedRootKey,
        byte[]? ownedSendingChainKey,
        byte[]? ownedReceivingChainKey,
        uint sendingCount,
        uint receivingCount,
        uint previousSendingCount)
    {
        _sendingPrivateKey = ownedSendingPrivateKey;
        SendingPublicKey = sendingPublicKey;
        ReceivingPublicKey = receivingPublicKey;
        RootKey = ownedRootKey;
        SendingChainKey = ownedSendingChainKey;
        ReceivingChainKey = ownedReceivingChainKey;
        SendingCount = sendingCount;
        ReceivingCount = receivingCount;
        PreviousSendingCount = previousSendingCount;
    }

    /// <summary>DHs, private half.</summary>
    public ReadOnlySpan<byte> SendingPrivateKey => _sendingPrivateKey;

    /// <summary>DHs, public half: the key every header this side sends carries.</summary>
    public RatchetPublicKey SendingPublicKey { get; private set; }

    /// <summary>DHr: the peer's current ratchet public key; null until Bob first receives.</summary>
    public RatchetPublicKey? ReceivingPublicKey { get; private set; }

    /// <summary>RK.</summary>
    public byte[] RootKey { get; }

    /// <summary>CKs; null until Bob first receives.</summary>
    public byte[]? SendingChainKey { get; private set; }

    /// <summary>CKr; null until this side first receives.</summary>
    public byte[]? ReceivingChainKey { get; private set; }

    /// <summary>Ns: the number of the next message sent in the sending chain.</summary>
    public uint SendingCount { get; private set; }

    /// <summary>Nr: the number of the next message expected in the receiving chain.</summary>
    public uint ReceivingCount { get; private set; }

    /// <summary>PN: the number of messages in the previous sending chain.</summary>
    public uint PreviousSendingCount { get; private set; }

    /// <summary>
    /// RatchetInitAlice (section 3.3): DHs = Alice's key pair, DHr = Bob's ratchet public key,
    /// RK, CKs = KDF_RK(SK, DH(DHs, DHr)). Null, with nothing kept, if the agreement fails.
    /// </summary>
    public static RatchetState? TryCreateAlice(ReadOnlySpan<byte> sharedSecret, RatchetPublicKey bobPublicKey, ReadOnlySpan<byte> alicePrivateKey)
    {
        Span<byte> alicePublicKey = stackalloc byte[X25519.KeySize];
        X25519.DerivePublicKey(alicePrivateKey, alicePublicKey);
        var sendingChainKey = new byte[RatchetFunctions.KeySize];
        var state = new RatchetState(
            alicePrivateKey.ToArray(), RatchetPublicKey.Read(alicePublicKey), bobPublicKey, sharedSecret.ToArray(), sendingChainKey, null, 0, 0, 0);
        if (!state.TryDeriveChain(bobPublicKey, sendingChainKey))
        {
            state.Dispose();
            return null;
        }

        return state;
    }

    /// <summary>RatchetInitBob (section 3.3): DHs = Bob's key pair, RK = SK, no chains yet.</summary>
    public static RatchetState CreateBob(ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> bobPrivateKey)
    {
        Span<byte> bobPublicKey = stackalloc byte[X25519.KeySize];
        X25519.DerivePublicKey(bobPrivateKey, bobPublicKey);
        return new RatchetState(
            bobPrivateKey.ToArray(), RatchetPublicKey.Read(bobPublicKey), null, sharedSecret.ToArray(), null, null, 0, 0, 0);
    }

    public RatchetState Clone() => new(
        _sendingPrivateKey.ToArray(),
        SendingPublicKey,
        ReceivingPublicKey,
        RootKey.ToArray(),
        SendingChainKey?.ToArray(),
        ReceivingChainKey?.ToArray(),
        SendingCount,
        ReceivingCount,
        PreviousSendingCount);

    /// <summary>
    /// DHRatchet (section 3.5): PN = Ns, Ns = Nr = 0, DHr = <paramref name="peerPublicKey"/>,
    /// RK, CKr = KDF_RK(RK, DH(DHs, DHr)), DHs = GENERATE_DH(), RK, CKs = KDF_RK(RK, DH(DHs, DHr)).
    /// False if an agreement fails (a small-order key); the state is then unusable and must be
    /// disposed: call this on a copy.
    /// </summary>
    public bool TryRatchet(RatchetPublicKey peerPublicKey)
    {
        PreviousSendingCount = SendingCount;
        SendingCount = 0;
        ReceivingCount = 0;
        ReceivingPublicKey = peerPublicKey;
        ReceivingChainKey ??= new byte[RatchetFunctions.KeySize];
        if (!TryDeriveChain(peerPublicKey, ReceivingChainKey))
        {
            return false;
        }

        ReplaceSendingKeyPair();
        SendingChainKey ??= new byte[RatchetFunctions.KeySize];
        return TryDeriveChain(peerPublicKey, SendingChainKey);
    }

    /// <summary>CKr, mk = KDF_CK(CKr); Nr += 1. Writes the key of message Nr to <paramref name="messageKey"/>.</summary>
    /// <exception cref="InvalidOperationException">There is no receiving chain.</exception>
    public void StepReceivingChain(Span<byte> messageKey)
    {
        RatchetFunctions.DeriveChainKey(ReceivingChainKey ?? throw new InvalidOperationException("There is no receiving chain."), messageKey);
        ReceivingCount++;
    }

    /// <summary>CKs, mk = KDF_CK(CKs); Ns += 1. Writes the key of message Ns to <paramref name="messageKey"/>.</summary>
    /// <exception cref="InvalidOperationException">There is no sending chain.</exception>
    public void StepSendingChain(Span<byte> messageKey)
    {
        RatchetFunctions.DeriveChainKey(SendingChainKey ?? throw new InvalidOperationException("There is no sending chain."), messageKey);
        SendingCount++;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_sendingPrivateKey);
        CryptographicOperations.ZeroMemory(RootKey);
        CryptographicOperations.ZeroMemory(SendingChainKey);
        CryptographicOperations.ZeroMemory(ReceivingChainKey);
    }

    // RK, CK = KDF_RK(RK, DH(DHs, DHr)); the DH output never leaves this method.
    private bool TryDeriveChain(RatchetPublicKey peerPublicKey, Span<byte> chainKey)
    {
        Span<byte> peer = stackalloc byte[X25519.KeySize];
        Span<byte> dhOutput = stackalloc byte[X25519.KeySize];
        peerPublicKey.CopyTo(peer);
        try
        {
            if (!X25519.TryAgree(_sendingPrivateKey, peer, dhOutput))
            {
                return false;
            }

            RatchetFunctions.DeriveRootKey(RootKey, dhOutput, chainKey);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dhOutput);
        }
    }

    private void ReplaceSendingKeyPair()
    {
        var privateKey = new byte[X25519.KeySize];
        Span<byte> publicKey = stackalloc byte[X25519.KeySize];
        X25519.GenerateKeyPair(privateKey, publicKey);
        CryptographicOperations.ZeroMemory(_sendingPrivateKey);
        _sendingPrivateKey = privateKey;
        SendingPublicKey = RatchetPublicKey.Read(publicKey);
    }
}
