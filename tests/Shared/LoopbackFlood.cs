using System.Net;
using System.Net.Sockets;

namespace SecureChat.Testing;

/// <summary>
/// A flood of junk connections from loopback, held open until disposed: each one connects from
/// its source address and then, by its index, stays silent (i % 3 == 0), sends 64 bytes of junk
/// (1) or sends only the first byte of the trickle it is given, like a slow handshake (2); or, by
/// <see cref="OpenSilentOrJunkAsync"/>, half silent and half random bytes.
/// Connections the target closes at once count as refused; connecting is bounded by the token.
/// </summary>
internal sealed class LoopbackFlood : IDisposable
{
    private readonly List<Socket> _sockets = [];

    private LoopbackFlood()
    {
    }

    /// <summary>Connections that were set up (some may have been closed by the target since).</summary>
    public int Connected => _sockets.Count;

    /// <summary>Connect attempts the target refused outright.</summary>
    public int Refused { get; private set; }

    public static Task<LoopbackFlood> OpenAsync(IPEndPoint target, int count, Func<int, IPAddress> source, ReadOnlyMemory<byte> trickle, CancellationToken cancellationToken)
    {
        var junk = new byte[64];
        System.Security.Cryptography.RandomNumberGenerator.Fill(junk);
        return OpenAsync(
            target,
            count,
            source,
            i => (i % 3) switch
            {
                1 => junk,
                2 => trickle[..1],
                _ => ReadOnlyMemory<byte>.Empty,
            },
            cancellationToken);
    }

    /// <summary>Half the connections silent (even indexes), half sending 64 random bytes of their own (odd ones).</summary>
    public static Task<LoopbackFlood> OpenSilentOrJunkAsync(IPEndPoint target, int count, Func<int, IPAddress> source, CancellationToken cancellationToken) =>
        OpenAsync(target, count, source, i => i % 2 == 0 ? ReadOnlyMemory<byte>.Empty : System.Security.Cryptography.RandomNumberGenerator.GetBytes(64), cancellationToken);

    /// <summary>Connects <paramref name="count"/> sockets, each sending <paramref name="first"/> of its index (nothing if empty).</summary>
    public static async Task<LoopbackFlood> OpenAsync(IPEndPoint target, int count, Func<int, IPAddress> source, Func<int, ReadOnlyMemory<byte>> first, CancellationToken cancellationToken)
    {
        var flood = new LoopbackFlood();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source(i), 0));
                    await socket.ConnectAsync(target, cancellationToken);
                    var bytes = first(i);
                    if (!bytes.IsEmpty)
                    {
                        await socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
                    }

                    flood._sockets.Add(socket);
                }
                catch (SocketException)
                {
                    socket.Dispose();
                    flood.Refused++;
                }
            }
        }
        catch
        {
            flood.Dispose();
            throw;
        }

        return flood;
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _sockets.Clear();
    }
}
