using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Channel;

/// <summary>Why a channel was closed, sent in the close frame.</summary>
public enum CloseReason : byte
{
    Normal = 0,
    ProtocolViolation = 1,
    FrameTooLarge = 2,
    AuthenticationFailed = 3,
    Shutdown = 4,
    PeerKeyRejected = 5,
}

/// <summary>What one transport frame turned out to be.</summary>
public enum ChannelReadKind
{
    /// <summary>An application message; see <see cref="ChannelRead.Data"/>.</summary>
    Message,

    /// <summary>The peer rotated its sending key; nothing for the application.</summary>
    Rekeyed,

    /// <summary>The peer closed the channel; see the reason and text.</summary>
    Closed,

    /// <summary>The frame was rejected; the channel is dead. See <see cref="ChannelRead.Error"/>.</summary>
    Failed,
}

/// <summary>The result of reading one transport frame.</summary>
public sealed record ChannelRead(ChannelReadKind Kind, byte[] Data, CloseReason Reason = CloseReason.Normal, string Text = "", ChannelError? Error = null);

/// <summary>
/// The transport phase of a channel, without I/O. Each frame's Noise plaintext is one type byte
/// then its body:
/// <code>
/// 0x01 MESSAGE  body = application bytes (at most 65518)
/// 0x02 REKEY    body empty; the sender rekeys its sending key right after this frame
/// 0x03 CLOSE    body = reason (1 byte) then a UTF-8 sentence (at most 200 bytes)
/// </code>
/// A sender rekeys (Noise section 11.3) after <see cref="RekeyAfterMessages"/> messages or
/// <see cref="RekeyInterval"/>, whichever comes first.
/// </summary>
public sealed class ChannelSession : IDisposable
{
    /// <summary>The largest application message one frame carries: 65535 - 16 (tag) - 1 (type).</summary>
    public const int MaxMessageSize = FrameReader.MaxFrameSize - CipherState.TagSize - 1;
    public const int MaxCloseTextBytes = 200;

    private const byte MessageType = 0x01;
    private const byte RekeyType = 0x02;
    private const byte CloseType = 0x03;

    private readonly NoiseTransport _transport;
    private readonly TimeProvider _time;
    private long _sentSinceRekey;
    private long _lastRekeyTimestamp;
    private bool _dead;

    internal ChannelSession(NoiseTransport transport, HandshakePayload peer, ChannelPattern pattern, TimeProvider time)
    {
        _transport = transport;
        _time = time;
        _lastRekeyTimestamp = time.GetTimestamp();
        Peer = peer;
        Pattern = pattern;
    }

    public HandshakePayload Peer { get; }

    public ChannelPattern Pattern { get; }

    public ReadOnlySpan<byte> HandshakeHash => _transport.HandshakeHash;

    /// <summary>The handshake's exporter secret (<see cref="Noise.NoiseTransport.ExporterSecret"/>); wiped with the session.</summary>
    public ReadOnlySpan<byte> ExporterSecret => _transport.ExporterSecret.Span;

    /// <summary>Messages sent under one key before the next rekey.</summary>
    public int RekeyAfterMessages
    {
        get;
        set => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "Rekeying needs a positive message count.");
    } = 10_000;

    /// <summary>Time under one sending key before the next rekey.</summary>
    public TimeSpan RekeyInterval
    {
        get;
        set => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), "Rekeying needs a positive interval.");
    } = TimeSpan.FromMinutes(10);

    /// <summary>How many times this side has rotated its sending key.</summary>
    public int SendRekeys { get; private set; }

    /// <summary>How many times the peer has rotated its sending key.</summary>
    public int ReceiveRekeys { get; private set; }

    public bool CloseSent { get; private set; }

    /// <summary>Writes one framed application message, preceded by a rekey frame when one is due.</summary>
    public void WriteMessage(IBufferWriter<byte> output, ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageSize)
        {
            throw new ArgumentException($"A message carries at most {MaxMessageSize} bytes.", nameof(data));
        }

        EnsureCanSend();
        if (_sentSinceRekey >= RekeyAfterMessages || _time.GetElapsedTime(_lastRekeyTimestamp) >= RekeyInterval)
        {
            WriteFrame(output, RekeyType, []);
            _transport.Send.Rekey();
            _sentSinceRekey = 0;
            _lastRekeyTimestamp = _time.GetTimestamp();
            SendRekeys++;
        }

        WriteFrame(output, MessageType, data);
        _sentSinceRekey++;
    }

    /// <summary>Writes the close frame; nothing may be sent after it.</summary>
    public void WriteClose(IBufferWriter<byte> output, CloseReason reason, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        EnsureCanSend();
        // Cut at a character boundary, so the peer never sees half a character.
        while (Encoding.UTF8.GetByteCount(text) > MaxCloseTextBytes)
        {
            text = text[..^(char.IsLowSurrogate(text[^1]) ? 2 : 1)];
        }

        byte[] body = [(byte)reason, .. Encoding.UTF8.GetBytes(text)];
        WriteFrame(output, CloseType, body);
        CloseSent = true;
    }

    /// <summary>Decrypts and interprets one frame's content. Hostile input yields <see cref="ChannelReadKind.Failed"/>.</summary>
    public ChannelRead Read(ReadOnlySpan<byte> frame)
    {
        if (_dead)
        {
            throw new InvalidOperationException("The channel has failed or was closed by the peer.");
        }

        var size = Math.Max(0, frame.Length - CipherState.TagSize);
        var plaintext = ArrayPool<byte>.Shared.Rent(Math.Max(1, size));
        try
        {
            return Interpret(frame, plaintext.AsSpan(0, size));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext.AsSpan(0, size));
            ArrayPool<byte>.Shared.Return(plaintext);
        }
    }

    public void Dispose() => _transport.Dispose();

    private ChannelRead Interpret(ReadOnlySpan<byte> frame, Span<byte> plaintext)
    {
        if (frame.Length < CipherState.TagSize + 1 || !_transport.Receive.TryDecrypt([], frame, plaintext, out var length) || length < 1)
        {
            return Die(ChannelError.AuthenticationFailed);
        }

        var body = plaintext.Slice(1, length - 1);
        switch (plaintext[0])
        {
            case MessageType:
                return new ChannelRead(ChannelReadKind.Message, body.ToArray());
            case RekeyType when body.IsEmpty:
                _transport.Receive.Rekey();
                ReceiveRekeys++;
                return new ChannelRead(ChannelReadKind.Rekeyed, []);
            case CloseType when body.Length >= 1 && body.Length <= 1 + MaxCloseTextBytes:
                _dead = true;
                var text = new string(Encoding.UTF8.GetString(body[1..]).Where(c => !DisplayText.IsDeceptive(c)).ToArray());
                return new ChannelRead(ChannelReadKind.Closed, [], (CloseReason)body[0], text);
            default:
                return Die(ChannelError.ProtocolViolation);
        }
    }

    private ChannelRead Die(ChannelError error)
    {
        _dead = true;
        return new ChannelRead(ChannelReadKind.Failed, [], Error: error);
    }

    private void EnsureCanSend()
    {
        if (CloseSent)
        {
            throw new InvalidOperationException("The channel was closed by this side.");
        }
    }

    // Encrypts straight into the output after the length prefix; the type byte and the body are
    // put together in a pooled buffer, wiped before it goes back.
    private void WriteFrame(IBufferWriter<byte> output, byte type, ReadOnlySpan<byte> body)
    {
        var length = 1 + body.Length;
        var plaintext = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            plaintext[0] = type;
            body.CopyTo(plaintext.AsSpan(1));
            var span = output.GetSpan(FrameReader.HeaderSize + length + CipherState.TagSize);
            var written = _transport.Send.Encrypt([], plaintext.AsSpan(0, length), span.Slice(FrameReader.HeaderSize, length + CipherState.TagSize));
            BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)written);
            output.Advance(FrameReader.HeaderSize + written);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(plaintext);
        }
    }
}
