using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net.Tests;

/// <summary>Identities, a listener on 127.0.0.1, dialing helpers and connected pairs over any transport, with a deadline on every wait.</summary>
internal sealed class Loopback : IAsyncDisposable
{
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromSeconds(20));
    private readonly List<IAsyncDisposable> _owned = [];

    public LocalIdentity Alice { get; } = LocalIdentity.Create("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public LocalIdentity Bob { get; } = LocalIdentity.Create("bob", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public CancellationToken Token => _deadline.Token;

    public static PeerVerifier AcceptAll { get; } = _ => null;

    public ChannelListener Listen(ChannelOptions? options = null, PeerVerifier? verify = null)
    {
        var listener = ChannelListener.Start("127.0.0.1", 0, Bob, verify ?? AcceptAll, options ?? new ChannelOptions(), NullLogger.Instance);
        _owned.Add(listener);
        return listener;
    }

    public async Task<SecureConnection> DialAsync(ChannelListener listener, ReadOnlyMemory<byte> knownKey = default, PeerVerifier? verify = null, ChannelOptions? options = null)
    {
        var connection = await ChannelDialer.ConnectAsync(
            new PeerEndpoint("127.0.0.1", listener.LocalEndPoint.Port), Alice, knownKey, verify ?? AcceptAll, options ?? new ChannelOptions(), Token);
        _owned.Add(connection);
        return connection;
    }

    public async Task<SecureConnection> AcceptAsync(ChannelListener listener)
    {
        var inbound = await listener.AcceptAsync(Token);
        Assert.Null(inbound.Failure);
        _owned.Add(inbound.Connection!);
        return inbound.Connection!;
    }

    /// <summary>Connects a raw socket and runs the initiator handshake by hand, as a hostile peer would.</summary>
    public async Task<RawPeer> DialRawAsync(ChannelListener listener)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, listener.LocalEndPoint.Port), Token);
        return await RawPeer.HandshakeAsync(new TcpTransport(socket), Alice, Token);
    }

    /// <summary>
    /// Alice dials Bob over a fresh pair of <paramref name="kind"/> transports (see
    /// <see cref="Transports"/>), both handshakes running at once as they would on two machines.
    /// </summary>
    public async Task<(SecureConnection Alice, SecureConnection Bob)> ConnectAsync(
        string kind, ChannelOptions? options = null, ReadOnlyMemory<byte> knownKey = default)
    {
        options ??= new ChannelOptions();
        var (dialer, listener) = await Transports.CreatePairAsync(kind, Token);
        var accepting = SecureConnection.AcceptAsync(listener, Bob, AcceptAll, options, Token);
        var alice = Own(await SecureConnection.ConnectAsync(dialer, Alice, knownKey, AcceptAll, options, Token));
        var bob = Own(await accepting);
        return (alice, bob);
    }

    /// <summary>Disposes <paramref name="owned"/> with the rest at the end of the test.</summary>
    public T Own<T>(T owned)
        where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        Alice.Dispose();
        Bob.Dispose();
        _deadline.Dispose();
    }
}

/// <summary>A peer driven by hand over any transport: writes whatever bytes a test wants.</summary>
internal sealed class RawPeer(ChannelTransport transport) : IAsyncDisposable
{
    public ChannelTransport Transport { get; } = transport;

    public ChannelSession Session { get; private set; } = null!;

    /// <summary>Runs the initiator handshake by hand over <paramref name="transport"/>, as a hostile peer would.</summary>
    public static async Task<RawPeer> HandshakeAsync(ChannelTransport transport, LocalIdentity identity, CancellationToken cancellationToken)
    {
        var raw = new RawPeer(transport);
        using var handshake = ChannelHandshake.StartInitiator(identity);
        await raw.WriteAsync(handshake.Preamble, cancellationToken);
        while (!handshake.IsComplete)
        {
            if (handshake.IsMyTurnToWrite)
            {
                await raw.WriteFrameAsync(handshake.WriteMessage(), cancellationToken);
            }
            else
            {
                Assert.Null(handshake.ReadMessage(await raw.ReadFrameAsync(cancellationToken)));
            }
        }

        raw.Session = handshake.Complete(TimeProvider.System);
        return raw;
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        await Transport.Output.WriteAsync(bytes, cancellationToken);

    public async Task WriteFrameAsync(byte[] message, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>();
        FrameReader.WriteFrame(output, message);
        await WriteAsync(output.WrittenMemory, cancellationToken);
    }

    /// <summary>Ends this side's bytes (a TCP FIN), as a peer that leaves mid-frame would.</summary>
    public ValueTask EndOutputAsync() => Transport.Output.CompleteAsync();

    /// <summary>The framed bytes of one application message, ready to send (or to send twice).</summary>
    public byte[] SealMessage(byte[] data)
    {
        var output = new ArrayBufferWriter<byte>();
        Session.WriteMessage(output, data);
        return output.WrittenMemory.ToArray();
    }

    public async Task<byte[]> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await Transport.Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (FrameReader.TryReadFrame(ref buffer, FrameReader.MaxFrameSize, out var frame) == FrameStatus.Frame)
            {
                var body = frame.ToArray();
                Transport.Input.AdvanceTo(buffer.Start);
                return body;
            }

            Assert.False(result.IsCompleted, "the stream ended before a whole frame");
            Transport.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (a preamble), frame or not.</summary>
    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await Transport.Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                Transport.Input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            Assert.False(result.IsCompleted, "the stream ended early");
            Transport.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        Session?.Dispose();
    }
}
