using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// Opens sockets of the test process inside a network namespace of the simulated internet. A
/// socket belongs for good to the namespace of the thread that created it, and <c>setns(2)</c>
/// moves only the calling thread: so each socket is created on a short-lived thread of its own
/// that first enters the namespace, and can then be used from any thread. The test's own threads
/// never leave the machine's namespace, and no helper process is needed for an observer or for
/// reaching a node's local API on its namespace's loopback.
/// </summary>
internal static class NamespaceSockets
{
    /// <summary>The <c>nstype</c> of a network namespace (CLONE_NEWNET).</summary>
    private const int NewNetworkNamespace = 0x40000000;

    /// <summary>A UDP socket in <paramref name="ns"/>, bound to <paramref name="local"/>.</summary>
    public static Socket Udp(string ns, System.Net.IPEndPoint local) => Create(ns, () =>
    {
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(local);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    });

    /// <summary>A TCP socket in <paramref name="ns"/>, not yet connected or bound.</summary>
    public static Socket Tcp(string ns, AddressFamily family) =>
        Create(ns, () => new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });

    /// <summary>Runs <paramref name="create"/> on a fresh thread that has entered the namespace <paramref name="ns"/>.</summary>
    public static T Create<T>(string ns, Func<T> create)
    {
        T? made = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/run/netns/{ns}", FileMode.Open, FileAccess.Read);
                if (setns(handle.DangerousGetHandle().ToInt32(), NewNetworkNamespace) != 0)
                {
                    throw new InvalidOperationException($"setns into the network namespace {ns} failed (errno {Marshal.GetLastPInvokeError()}): the simulated internet needs root.");
                }

                made = create();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = "enter " + ns };
        thread.Start();
        thread.Join();
        return failure is null ? made! : throw new InvalidOperationException($"Could not open a socket in namespace {ns}: {failure.Message}", failure);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}
