using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>Dials from the node's listen port (see <see cref="ListenPortSharing"/>).</summary>
public sealed partial class TcpTransport
{
    /// <summary>
    /// Connects from <paramref name="source"/> (the node's listen address and port, shared with the
    /// listener through <see cref="ListenPortSharing"/>) to <paramref name="remote"/>, waiting up to
    /// <see cref="ChannelOptions.ListenPortConnectTimeout"/>: long enough for a contact behind a
    /// firewall to dial back, its SYN then meeting this one (a simultaneous open). Null when the
    /// port cannot be used for this address just now (a connection between the same two endpoints
    /// is open or in TIME_WAIT), so the caller dials from an ephemeral port instead.
    /// </summary>
    internal static async Task<TcpTransport?> ConnectFromAsync(IPEndPoint source, IPEndPoint remote, ChannelOptions options, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.ListenPortConnectTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (source.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            ListenPortSharing.Allow(socket);
            socket.Bind(source);
            await socket.ConnectAsync(remote, linked.Token).ConfigureAwait(false);
            return new TcpTransport(socket, options.KeepAlive);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable)
        {
            socket.Dispose();
            return null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new NetworkException(NetworkError.ConnectTimeout, $"Connecting to {remote} from port {source.Port} timed out after {options.ListenPortConnectTimeout.TotalSeconds:0.#} seconds: the host may be down, or a firewall drops the connection and the contact did not dial back meanwhile.");
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw ex.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => new NetworkException(NetworkError.ConnectionRefused, $"Nothing is listening at {remote} (connection refused).", ex),
                SocketError.TimedOut => new NetworkException(NetworkError.ConnectTimeout, $"Connecting to {remote} timed out: the host may be down or a firewall drops the connection.", ex),
                SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.HostDown => new NetworkException(NetworkError.Unreachable, $"{remote} cannot be reached from this machine: check the address and the network.", ex),
                _ => new NetworkException(NetworkError.Other, $"Connecting to {remote} from port {source.Port} failed: {ex.Message}.", ex),
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
