using System.Net;
using Google.Protobuf;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Node.Tests.Session;

/// <summary>The hello's <c>observed_endpoint</c> (docs/protocol.md 6.1): each side tells the other where its connection came from.</summary>
public sealed class PeerSessionObservedTests : TwoParties
{
    private static readonly IPEndPoint DialerSeenAt = new(IPAddress.Parse("198.18.7.2"), 40112);
    private static readonly IPEndPoint AnswererSeenAt = new(IPAddress.Parse("198.18.0.10"), 7311);

    [Fact]
    public void Hello_BothSidesKnowTheirRemote_EachLearnsWhereThePeerSeesIt()
    {
        using var pair = new SessionPair(Alice, Bob, dialerSeenAt: DialerSeenAt, answererSeenAt: AnswererSeenAt).Start();
        pair.Settle();

        Assert.True(pair.Dialer.IsOnline);
        Assert.Equal(DialerSeenAt, Assert.Single(pair.DialerOutputs, o => o.CameOnline).SeenAt);
        Assert.Equal(AnswererSeenAt, Assert.Single(pair.AnswererOutputs, o => o.CameOnline).SeenAt);
    }

    [Fact]
    public void Hello_RemoteIsIpv4MappedIpv6_SentAsTheIpv4Address()
    {
        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:198.18.7.2"), 40112);
        byte[]? sent = null;
        using var pair = new SessionPair(Alice, Bob, dialerSeenAt: mapped)
        {
            Wire = (fromDialer, frame) =>
            {
                if (!fromDialer && NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Hello)
                {
                    sent = parsed.Hello.ObservedEndpoint.ToByteArray();
                }

                return [frame];
            },
        }.Start();
        pair.Settle();

        Assert.Equal(Convert.FromHexString("C61207029CB0"), sent);
        Assert.Equal(DialerSeenAt, Assert.Single(pair.DialerOutputs, o => o.CameOnline).SeenAt);
    }

    [Fact]
    public void Hello_NoRemote_SendsNoObservationAndThePeerLearnsNothing()
    {
        using var pair = SessionPair.Run(Alice, Bob);

        Assert.True(pair.Dialer.IsOnline);
        Assert.Null(Assert.Single(pair.DialerOutputs, o => o.CameOnline).SeenAt);
        Assert.Null(Assert.Single(pair.AnswererOutputs, o => o.CameOnline).SeenAt);
    }

    [Theory]
    [InlineData("")]
    [InlineData("C6120702")]
    [InlineData("C61207021C")]
    [InlineData("C61207021C8F00")]
    [InlineData("C61207020000")]
    [InlineData("20010DB80000000000000000000000101C")]
    [InlineData("20010DB80000000000000000000000101C8F00")]
    public void Hello_MalformedObservation_IgnoredAndTheSessionRuns(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        using var pair = new SessionPair(Alice, Bob, dialerSeenAt: DialerSeenAt)
        {
            Wire = (fromDialer, frame) => fromDialer ? [frame] : [ReplaceObservation(frame, bytes)],
        }.Start();
        pair.Settle();
        var text = Alice.Send("still delivered");
        pair.Kick().Settle();

        Assert.True(pair.Dialer.IsOnline);
        Assert.Empty(Alice.Closes);
        Assert.Null(Assert.Single(pair.DialerOutputs, o => o.CameOnline).SeenAt);
        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
    }

    /// <summary>The answerer's hello with its observation replaced by <paramref name="bytes"/>; other frames as they were.</summary>
    private static byte[] ReplaceObservation(byte[] frame, byte[] bytes)
    {
        if (!NodeWire.TryParseFrame(frame, out var parsed) || parsed.FrameCase != NodeFrame.FrameOneofCase.Hello)
        {
            return frame;
        }

        parsed.Hello.ObservedEndpoint = ByteString.CopyFrom(bytes);
        return NodeWire.Encode(parsed);
    }
}
