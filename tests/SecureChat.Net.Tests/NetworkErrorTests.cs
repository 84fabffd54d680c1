using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Testing;

namespace SecureChat.Net.Tests;

public sealed class NetworkErrorTests
{
    [Fact]
    public async Task ConnectAsync_NothingListening_ReportsConnectionRefused()
    {
        // A port nobody listens on: the dial must be refused.
        var port = LoopbackPort.Unused();

        var error = await Assert.ThrowsAsync<NetworkException>(() =>
            TcpTransport.ConnectAsync(new PeerEndpoint("127.0.0.1", port), new ChannelOptions(), CancellationToken.None));

        Assert.Equal(NetworkError.ConnectionRefused, error.Error);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PortAlreadyHeld_ReportsAddressInUse()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        using var identity = Protocol.Identity.LocalIdentity.Create("x", DateTimeOffset.UnixEpoch);

        var error = Assert.Throws<NetworkException>(() =>
            ChannelListener.Start("127.0.0.1", port, identity, _ => null, new ChannelOptions(), NullLogger.Instance));

        Assert.Equal(NetworkError.AddressInUse, error.Error);
        Assert.Contains("already in use", error.Message, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData("127.0.0.1:7311", "127.0.0.1", 7311)]
    [InlineData("example.test:1", "example.test", 1)]
    [InlineData("[::1]:65535", "::1", 65535)]
    [InlineData(" localhost:80 ", "localhost", 80)]
    public void TryParse_ValidAddresses_Parse(string text, string host, int port)
    {
        Assert.True(PeerEndpoint.TryParse(text, out var endpoint, out _));
        Assert.Equal(new PeerEndpoint(host, port), endpoint);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData(":7311")]
    [InlineData("::1:7311")]
    [InlineData("[::1]")]
    [InlineData("[nothost]:1")]
    [InlineData("bad host:1")]
    public void TryParse_MalformedAddresses_ExplainWhatIsWrong(string text)
    {
        Assert.False(PeerEndpoint.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }
}
