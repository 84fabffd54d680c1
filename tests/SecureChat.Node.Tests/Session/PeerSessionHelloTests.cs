using System.Net;
using Google.Protobuf;
using SecureChat.Net;
using SecureChat.Node.Session;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>The hello and the choice of ratchet session (docs/protocol.md 6.2, 6.3), two sessions in memory.</summary>
public sealed class PeerSessionHelloTests : TwoParties
{
    [Fact]
    public void Hello_NeitherHasASession_BothStartTheSameOneNamedByTheHandshake()
    {
        using var pair = SessionPair.Run(Alice, Bob);

        Assert.True(pair.Dialer.IsOnline);
        Assert.True(pair.Answerer.IsOnline);
        Assert.Equal(pair.HandshakeHash[..16], pair.Dialer.SessionId.ToArray());
        Assert.Equal(pair.HandshakeHash[..16], pair.Answerer.SessionId.ToArray());
        Assert.Equal(1, Alice.Store.SessionsStarted);
        Assert.Equal(1, Bob.Store.SessionsStarted);
        Assert.Single(pair.DialerOutputs, o => o.CameOnline);
        Assert.Single(pair.AnswererOutputs, o => o.CameOnline);
    }

    [Fact]
    public void Hello_Exchanged_ExporterSecretAndRatchetKeyWipedOnBothSides()
    {
        using var pair = new SessionPair(Alice, Bob).Start();
        Assert.Contains(pair.DialerFacts.ExporterSecret, b => b != 0);

        pair.Settle();

        Assert.All(pair.DialerFacts.ExporterSecret, b => Assert.Equal(0, b));
        Assert.All(pair.AnswererFacts.ExporterSecret, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Hello_BothNameTheSameSession_KeepItAndStartNone()
    {
        byte[] first;
        using (var pair = SessionPair.Run(Alice, Bob))
        {
            first = pair.Dialer.SessionId.ToArray();
        }

        var text = Alice.Send("after a reconnect");
        using var again = SessionPair.Run(Bob, Alice);

        Assert.Equal(first, again.Dialer.SessionId.ToArray());
        Assert.Equal(first, again.Answerer.SessionId.ToArray());
        Assert.Equal(1, Alice.Store.SessionsStarted);
        Assert.Equal(1, Bob.Store.SessionsStarted);
        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
    }

    [Fact]
    public void Hello_OneSideLostItsSession_BothStartANewOneAndTheOutboxGoesUnderIt()
    {
        SessionPair.RunOnce(Alice, Bob);

        Bob.Store.ForgetSession(Alice.ContactOf(Bob));
        var text = Alice.Send("still delivered");
        using var again = SessionPair.Run(Alice, Bob);

        Assert.Equal(again.HandshakeHash[..16], again.Dialer.SessionId.ToArray());
        Assert.Equal(again.HandshakeHash[..16], again.Answerer.SessionId.ToArray());
        Assert.Equal(2, Alice.Store.SessionsStarted);
        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    [Fact]
    public void Hello_FirstFrameIsNotAHello_ClosesWithProtocolViolationAndStoresNothing()
    {
        using var pair = new SessionPair(Alice, Bob);
        pair.Answerer.Start(Bob.Now);

        var output = pair.Answerer.Receive([NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(new byte[64]) })], Bob.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.Contains("not a node hello", output.Close!.Text, StringComparison.Ordinal);
        Assert.Empty(output.Frames);
        Assert.False(Bob.Store.HasSession);
        Assert.False(pair.Answerer.IsOnline);
    }

    [Fact]
    public void Hello_PeerSendsNone_ClosesAtTheHelloDeadlineAndNotBefore()
    {
        using var pair = new SessionPair(Alice, Bob);
        var started = Bob.Now;
        var hello = pair.Answerer.Start(started);
        Assert.Single(hello.Frames);
        Assert.Equal(started + Bob.Options.HelloTimeout, pair.Answerer.WakeAt);

        Bob.Time.Advance(Bob.Options.HelloTimeout - TimeSpan.FromMilliseconds(1));
        Assert.Null(pair.Answerer.Pump(Bob.Now).Close);

        Bob.Time.Advance(TimeSpan.FromMilliseconds(1));
        var output = pair.Answerer.Pump(Bob.Now);

        Assert.Equal(new SessionClose(CloseReason.ProtocolViolation, "the peer sent no hello in time"), output.Close);
        Assert.Null(pair.Answerer.WakeAt);
        Assert.Empty(pair.Answerer.Receive([.. pair.DialerOutputs.SelectMany(o => o.Frames)], Bob.Now).Frames);
    }

    [Fact]
    public void Hello_HelloArrivesBeforeTheDeadline_NoWakeForItAfterwards()
    {
        using var pair = new SessionPair(Alice, Bob).Start();
        Assert.NotNull(pair.Answerer.WakeAt);

        pair.Settle();
        Bob.Time.Advance(Bob.Options.HelloTimeout * 2);

        Assert.Null(pair.Answerer.WakeAt);
        Assert.Null(pair.Answerer.Pump(Bob.Now).Close);
        Assert.True(pair.Answerer.IsOnline);
    }

    [Fact]
    public void Hello_InviteTokenKept_PresentedOnceAndSpentWhenTheHellosAreExchanged()
    {
        Alice.InviteToken = [1, 2, 3, 4];
        using var pair = new SessionPair(Alice, Bob).Start();
        Assert.True(NodeWire.TryParseFrame(pair.DialerOutputs[0].Frames[0], out var frame));
        Assert.Equal([1, 2, 3, 4], frame.Hello.InviteToken.ToByteArray());
        Assert.Equal(0, Alice.Store.InvitesDelivered);

        pair.Settle();

        Assert.Equal(1, Alice.Store.InvitesDelivered);
        Assert.Null(pair.Dialer.Contact.InviteToken);
    }

    [Fact]
    public void Hello_DialerNamesItsListenPort_AnswererClaimsItAtTheAddressItSaw()
    {
        using var pair = new SessionPair(Alice, Bob, dialerSeenAt: new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.5"), 50_123), listenPort: 7_331).Start();
        pair.Settle();

        Assert.Equal(new PeerEndpoint("127.0.0.5", 7_331), Assert.Single(pair.AnswererOutputs, o => o.ClaimedEndpoint is not null).ClaimedEndpoint);
        Assert.DoesNotContain(pair.DialerOutputs, o => o.ClaimedEndpoint is not null);
    }

    [Fact]
    public void Hello_AnswererSendsAnInvalidRatchetKey_DialerClosesWithoutStartingASession()
    {
        using var pair = new SessionPair(Alice, Bob);
        pair.Dialer.Start(Alice.Now);
        var forged = new Hello { RatchetKey = ByteString.CopyFrom(new byte[32]) };

        var output = pair.Dialer.Receive([NodeWire.Encode(new NodeFrame { Hello = forged })], Alice.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.False(Alice.Store.HasSession);
    }
}
