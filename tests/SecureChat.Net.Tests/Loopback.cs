using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net.Tests;

/// <summary>Identities, a listener on 127.0.0.1 and dialing helpers, with a deadline on every wait.</summary>
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
        var raw = new RawPeer(socket);
        using var handshake = ChannelHandshake.StartInitiator(Alice);
        await raw.Stream.WriteAsync(handshake.Preamble, Token);
        while (!handshake.IsComplete)
        {
            if (handshake.IsMyTurnToWrite)
            {
                await raw.WriteFrameAsync(handshake.WriteMessage(), Token);
            }
            else
            {
                Assert.Null(handshake.ReadMessage(await raw.ReadFrameAsync(Token)));
            }
        }

        raw.Session = handshake.Complete(TimeProvider.System);
        return raw;
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

/// <summary>A peer driven by hand over a socket: writes whatever bytes a test wants.</summary>
internal sealed class RawPeer(Socket socket) : IDisposable
{
    public Socket Socket { get; } = socket;

    public NetworkStream Stream { get; } = new(socket, ownsSocket: true);

    public ChannelSession Session { get; set; } = null!;

    public async Task WriteFrameAsync(byte[] message, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>();
        FrameReader.WriteFrame(output, message);
        await Stream.WriteAsync(output.WrittenMemory, cancellationToken);
    }

    /// <summary>The framed bytes of one application message, ready to send (or to send twice).</summary>
    public byte[] SealMessage(byte[] data)
    {
        var output = new ArrayBufferWriter<byte>();
        Session.WriteMessage(output, data);
        return output.WrittenMemory.ToArray();
    }

    public async Task<byte[]> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var header = new byte[2];
        await Stream.ReadExactlyAsync(header, cancellationToken);
        var body = new byte[(header[0] << 8) | header[1]];
        await Stream.ReadExactlyAsync(body, cancellationToken);
        return body;
    }

    public void Dispose()
    {
        Stream.Dispose();
        Session?.Dispose();
    }
}
