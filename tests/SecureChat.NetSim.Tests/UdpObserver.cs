using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A UDP responder on a host of the simulated internet, in the manner of a STUN server: every
/// datagram it receives is answered, to where it came from, with the text
/// <c>ADDRESS PORT</c> of that source as the observer saw it. A host behind a NAT learns so
/// where the internet sees it.
/// </summary>
internal sealed class UdpObserver : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _answering;

    public UdpObserver(SimHost host, IPAddress address, int port)
    {
        _socket = NamespaceSockets.Udp(host.Namespace, new IPEndPoint(address, port));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _answering = AnswerAsync();
    }

    /// <summary>Where the observer listens.</summary>
    public IPEndPoint EndPoint { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try
        {
            await _answering;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Closing the socket ends the loop; that is how it is stopped.
        }

        _stop.Dispose();
    }

    /// <summary>Sends one datagram from <paramref name="socket"/> to <paramref name="observer"/> and returns where the observer saw it come from.</summary>
    public static async Task<IPEndPoint> AskAsync(Socket socket, IPEndPoint observer, TimeSpan timeout)
    {
        var buffer = new byte[256];
        using var deadline = new CancellationTokenSource(timeout);
        // UDP may lose a datagram even here (a neighbour entry not yet resolved): ask again every second.
        for (var attempt = 0; ; attempt++)
        {
            await socket.SendToAsync("where am I?"u8.ToArray(), observer, deadline.Token);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            wait.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                while (true)
                {
                    var got = await socket.ReceiveFromAsync(buffer, new IPEndPoint(observer.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), wait.Token);
                    if (got.RemoteEndPoint.Equals(observer))
                    {
                        var words = Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes).Split(' ');
                        return new IPEndPoint(IPAddress.Parse(words[0]), int.Parse(words[1], CultureInfo.InvariantCulture));
                    }
                }
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested && attempt < 30)
            {
                // No answer within a second: ask again.
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The observer at {observer} did not answer {socket.LocalEndPoint} within {timeout.TotalSeconds} s.");
            }
        }
    }

    private async Task AnswerAsync()
    {
        var buffer = new byte[1500];
        var any = new IPEndPoint(EndPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            var got = await _socket.ReceiveFromAsync(buffer, any, _stop.Token);
            var source = (IPEndPoint)got.RemoteEndPoint;
            var answer = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{source.Address} {source.Port}"));
            await _socket.SendToAsync(answer, source, _stop.Token);
        }
    }
}
