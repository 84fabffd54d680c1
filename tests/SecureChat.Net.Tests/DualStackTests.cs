using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net.Tests;

/// <summary>
/// The dual-stack listener on loopback: one socket on <c>::</c> takes peers over IPv4 and IPv6,
/// and an IPv4 peer is seen as the IPv4 address it is, never as <c>::ffff:127.0.0.1</c> (which
/// would count, pin and show the same peer under a second name).
/// </summary>
public sealed class DualStackTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromSeconds(20));
    private readonly LocalIdentity _alice = LocalIdentity.Create("alice", Created);
    private readonly LocalIdentity _bob = LocalIdentity.Create("bob", Created);
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        _alice.Dispose();
        _bob.Dispose();
        _deadline.Dispose();
    }

    [Fact]
    public async Task Start_Ipv6Any_AcceptsIpv4AndIpv6PeersOnOnePortAsTheirOwnAddresses()
    {
        var listener = Listen("::", new ChannelOptions());
        Assert.Equal(IPAddress.IPv6Any, listener.LocalEndPoint.Address);

        var overFour = await DialAsync("127.0.0.1", listener);
        var acceptedFour = await AcceptAsync(listener);
        var overSix = await DialAsync("::1", listener);
        var acceptedSix = await AcceptAsync(listener);

        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)acceptedFour.Remote).Address);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)acceptedFour.Connection!.RemoteEndPoint!).Address);
        Assert.Equal(IPAddress.IPv6Loopback, ((IPEndPoint)acceptedSix.Remote).Address);
        Assert.Equal(_alice.Account, acceptedFour.Connection.PeerAccount);
        Assert.Equal(_alice.Account, acceptedSix.Connection!.PeerAccount);

        // The dialing side's socket is dual-stack too (.NET's default): its peer reads as IPv4 all the same.
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, listener.LocalEndPoint.Port), overFour.RemoteEndPoint);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, listener.LocalEndPoint.Port), overSix.RemoteEndPoint);
    }

    /// <summary>
    /// The per-address cap counts a peer that came over IPv4 to the dual-stack socket as
    /// 127.0.0.1: a second connection from it is refused at once, while one from ::1, another
    /// address, is admitted.
    /// </summary>
    [Fact]
    public async Task Start_Ipv6Any_AdmissionCountsAnIpv4PeerAsItsIpv4Address()
    {
        var listener = Listen("::", new ChannelOptions { MaxConnectionsPerAddress = 1 });
        await DialAsync("127.0.0.1", listener);
        await AcceptAsync(listener);

        using var second = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Closed at once, by a reset (which may come before the connect has reported): nothing is ever read from it.
            await second.ConnectAsync(new IPEndPoint(IPAddress.Loopback, listener.LocalEndPoint.Port), _deadline.Token);
            Assert.Equal(0, await second.ReceiveAsync(new byte[1], SocketFlags.None, _deadline.Token));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        Assert.Equal(1, listener.Admission.Refused);

        await DialAsync("::1", listener);
        var six = await AcceptAsync(listener);
        Assert.Equal(IPAddress.IPv6Loopback, ((IPEndPoint)six.Remote).Address);
    }

    [Fact]
    public async Task Start_Ipv4Any_TakesNoIpv6Peer()
    {
        var listener = Listen("0.0.0.0", new ChannelOptions());
        Assert.Equal(IPAddress.Any, listener.LocalEndPoint.Address);

        var error = await Assert.ThrowsAsync<NetworkException>(() => DialAsync("::1", listener));

        Assert.Equal(NetworkError.ConnectionRefused, error.Error);
    }

    [Theory]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1")]
    [InlineData("::ffff:198.51.100.7", "198.51.100.7")]
    [InlineData("198.51.100.7", "198.51.100.7")]
    [InlineData("2001:db8::7", "2001:db8::7")]
    [InlineData("::1", "::1")]
    public void Normalize_MappedAddress_IsItsIpv4Address(string given, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), DualStack.Normalize(IPAddress.Parse(given)));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(expected), 7311), DualStack.Normalize(new IPEndPoint(IPAddress.Parse(given), 7311)));
    }

    [Theory]
    [InlineData("2001:db8::7", true)]
    [InlineData("2a00:1450:4001:80b::200e", true)]
    [InlineData("3fff::1", true)]
    [InlineData("fe80::1", false)]
    [InlineData("fd12:3456::1", false)]
    [InlineData("::1", false)]
    [InlineData("::", false)]
    [InlineData("ff02::1", false)]
    [InlineData("::ffff:198.51.100.7", false)]
    [InlineData("198.51.100.7", false)]
    public void IsGlobalUnicast_Address_OnlyTheGlobalIpv6Range(string address, bool global)
    {
        Assert.Equal(global, DualStack.IsGlobalUnicast(IPAddress.Parse(address)));
    }

    private ChannelListener Listen(string host, ChannelOptions options)
    {
        var listener = ChannelListener.Start(host, 0, _bob, _ => null, options, NullLogger.Instance);
        _owned.Add(listener);
        return listener;
    }

    private async Task<SecureConnection> DialAsync(string host, ChannelListener listener)
    {
        var connection = await ChannelDialer.ConnectAsync(new PeerEndpoint(host, listener.LocalEndPoint.Port), _alice, ReadOnlyMemory<byte>.Empty, _ => null, new ChannelOptions(), _deadline.Token);
        _owned.Add(connection);
        return connection;
    }

    private async Task<InboundConnection> AcceptAsync(ChannelListener listener)
    {
        var inbound = await listener.AcceptAsync(_deadline.Token);
        Assert.Null(inbound.Failure);
        _owned.Add(inbound.Connection!);
        return inbound;
    }
}
