using System.Buffers;
using BenchmarkDotNet.Attributes;
using NSec.Cryptography;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Micro;

/// <summary>
/// ChaCha20-Poly1305 sealing of one 64 KiB buffer through the BCL and through libsodium (NSec),
/// and the channel's transport encryption of the largest message one frame carries.
/// </summary>
public class AeadBenchmarks
{
    /// <summary>The buffer the two raw AEADs seal.</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>The channel's message: one frame holds at most 65535 bytes, so 65518 of application data.</summary>
    public const int ChannelMessageSize = ChannelSession.MaxMessageSize;

    private readonly byte[] _plaintext = new byte[BufferSize];
    private readonly byte[] _ciphertext = new byte[BufferSize + 16];

    // A fixed nonce: nothing sealed here is ever opened or sent, and the cost does not depend on it.
    private readonly byte[] _nonce = new byte[12];
    private readonly ArrayBufferWriter<byte> _frames = new(FrameReader.HeaderSize + FrameReader.MaxFrameSize);
    private System.Security.Cryptography.ChaCha20Poly1305? _bcl;
    private Key? _sodium;
    private LocalIdentity? _alice;
    private LocalIdentity? _bob;
    private ChannelSession? _channel;
    private ChannelSession? _channelPeer;

    [GlobalSetup]
    public void Setup()
    {
        System.Security.Cryptography.RandomNumberGenerator.Fill(_plaintext);
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        _bcl = new System.Security.Cryptography.ChaCha20Poly1305(key);
        _sodium = Key.Import(AeadAlgorithm.ChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);
        _alice = LocalIdentity.Create("alice", DateTimeOffset.UnixEpoch);
        _bob = LocalIdentity.Create("bob", DateTimeOffset.UnixEpoch);
        (_channel, _channelPeer) = Handshakes.Channel(_alice, _bob);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _channel?.Dispose();
        _channelPeer?.Dispose();
        _alice?.Dispose();
        _bob?.Dispose();
        _sodium?.Dispose();
        _bcl?.Dispose();
    }

    [Benchmark]
    public byte SealBcl()
    {
        _bcl!.Encrypt(_nonce, _plaintext, _ciphertext.AsSpan(0, BufferSize), _ciphertext.AsSpan(BufferSize));
        return _ciphertext[^1];
    }

    [Benchmark]
    public byte SealLibsodium()
    {
        AeadAlgorithm.ChaCha20Poly1305.Encrypt(_sodium!, _nonce, [], _plaintext, _ciphertext);
        return _ciphertext[^1];
    }

    /// <summary>
    /// ChannelSession.WriteMessage as a connection calls it: the type byte, the Noise
    /// CipherState's seal (BCL ChaCha20-Poly1305), the length prefix, and a rekey frame every
    /// 10,000 messages.
    /// </summary>
    [Benchmark]
    public int SealChannel()
    {
        _frames.ResetWrittenCount();
        _channel!.WriteMessage(_frames, _plaintext.AsSpan(0, ChannelMessageSize));
        return _frames.WrittenCount;
    }
}
