using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// A peer that finishes the channel handshake and then says nothing holds no place for long: the
/// node closes it after <see cref="NodeOptions.HelloTimeout"/> with PROTOCOL_VIOLATION, and the
/// listener's place is free again (the slow-loris one layer up from the handshake timeout).
/// </summary>
public sealed class HelloTimeoutTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Accept_PeerThatNeverSendsItsHello_IsClosedAtTheHelloTimeoutAndFreesItsPlace()
    {
        await using var bob = new NodeHome("bob", new TestOutputLogger(output, "bob"), NodeHome.FastOptions with { HelloTimeout = TimeSpan.FromMilliseconds(300) });
        var node = bob.Start();
        using var mute = LocalIdentity.Create("mute", DateTimeOffset.UtcNow);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await using var connection = await ChannelDialer.ConnectAsync(new PeerEndpoint("127.0.0.1", bob.Port), mute, default, _ => null, new ChannelOptions(), deadline.Token);
        await Eventually.HoldsAsync(() => node.Inbound!.Open == 1, "the mute peer's connection open at the node", () => $"{node.Inbound}");

        // The node sends its own hello, waits for ours, and gives up.
        var frames = 0;
        while (await connection.ReceiveAsync(deadline.Token) is not null)
        {
            frames++;
        }

        Assert.Equal(1, frames);
        Assert.Equal(CloseReason.ProtocolViolation, connection.PeerClose?.Reason);
        await Eventually.HoldsAsync(() => node.Inbound!.Open == 0, "the mute peer's place free again", () => $"{node.Inbound}");
        Assert.Equal(0, node.Inbound!.Pending);
    }
}
