using System.Net;
using System.Net.Sockets;

namespace SecureChat.Testing;

/// <summary>
/// A loopback TCP port that nobody listened on a moment ago. A listener in a test binds port 0
/// and reports the port it got; this is only for the few tests that must name a port before
/// anything listens on it: a dial that must be refused, or a node that is told another's address
/// before that one starts. Another program may take the port in between, which is why nothing
/// else uses it.
/// </summary>
internal static class LoopbackPort
{
    public static int Unused()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
