using BenchmarkDotNet.Attributes;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Bench.Micro;

/// <summary>
/// One 200-byte message encrypted by one Double Ratchet session and decrypted by its peer: in one
/// direction (a symmetric-key ratchet step on each side), or alternating (a DH ratchet step on
/// each receipt).
/// </summary>
public class RatchetBenchmarks
{
    public const int MessageSize = 200;

    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly byte[] _message = new byte[MessageSize];
    private RatchetSession? _oneWaySender;
    private RatchetSession? _oneWayReceiver;
    private RatchetSession? _alice;
    private RatchetSession? _bob;

    [GlobalSetup]
    public void Setup()
    {
        System.Security.Cryptography.RandomNumberGenerator.Fill(_message);
        (_oneWaySender, _oneWayReceiver) = Pair();
        (_alice, _bob) = Pair();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _oneWaySender?.Dispose();
        _oneWayReceiver?.Dispose();
        _alice?.Dispose();
        _bob?.Dispose();
    }

    /// <summary>Alice to Bob, always: each side only advances its chain key.</summary>
    [Benchmark]
    public int SameDirection() => Deliver(_oneWaySender!, _oneWayReceiver!);

    /// <summary>Bob to Alice, then Alice to Bob: each receipt brings a new ratchet key, so a DH ratchet step.</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public int Alternating() => Deliver(_bob!, _alice!) + Deliver(_alice!, _bob!);

    private int Deliver(RatchetSession sender, RatchetSession receiver)
    {
        var ciphertext = sender.Encrypt(_message);
        return receiver.TryDecrypt(ciphertext, Now, out var plaintext) == RatchetError.None
            ? plaintext!.Length
            : throw new InvalidOperationException("The benchmark's ratchet message did not decrypt.");
    }

    // As a node starts a session: a shared secret from the channel, Bob's ratchet key from his
    // hello, and associated data of a label, the session ID and both account keys (101 bytes).
    // Alice's first message lets Bob send.
    private (RatchetSession Alice, RatchetSession Bob) Pair()
    {
        var secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(RatchetSession.KeySize);
        var bobPrivate = new byte[X25519.KeySize];
        var bobPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(bobPrivate, bobPublic);
        byte[] associatedData = [.. "SecureChat ratchet v1"u8, .. System.Security.Cryptography.RandomNumberGenerator.GetBytes(16 + 32 + 32)];
        var alice = RatchetSession.InitializeAlice(secret, bobPublic, associatedData);
        var bob = RatchetSession.InitializeBob(secret, bobPrivate, associatedData);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(bobPrivate);
        _ = Deliver(alice, bob);
        return (alice, bob);
    }
}
