using BenchmarkDotNet.Attributes;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Micro;

/// <summary>A complete channel handshake, both sides, against the X25519 agreement it is built from.</summary>
public class HandshakeBenchmarks
{
    private readonly byte[] _privateKey = new byte[X25519.KeySize];
    private readonly byte[] _publicKey = new byte[X25519.KeySize];
    private readonly byte[] _shared = new byte[X25519.KeySize];
    private LocalIdentity? _alice;
    private LocalIdentity? _bob;

    [GlobalSetup]
    public void Setup()
    {
        _alice = LocalIdentity.Create("alice", DateTimeOffset.UnixEpoch);
        _bob = LocalIdentity.Create("bob", DateTimeOffset.UnixEpoch);
        Span<byte> ownPublic = stackalloc byte[X25519.KeySize];
        Span<byte> peerPrivate = stackalloc byte[X25519.KeySize];
        X25519.GenerateKeyPair(_privateKey, ownPublic);
        X25519.GenerateKeyPair(peerPrivate, _publicKey);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _alice?.Dispose();
        _bob?.Dispose();
    }

    /// <summary>Noise_IK through ChannelHandshake, initiator and responder on one thread.</summary>
    [Benchmark]
    public int IkHandshake()
    {
        var (initiator, responder) = Handshakes.Channel(_alice!, _bob!);
        using (initiator)
        using (responder)
        {
            return initiator.HandshakeHash[0];
        }
    }

    /// <summary>One X25519 agreement through SecureChat.Crypto (libsodium), as the handshake does each DH.</summary>
    [Benchmark]
    public bool X25519Agreement() => X25519.TryAgree(_privateKey, _publicKey, _shared);
}
