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
public sealed class PeerSessionHelloTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    [Fact]
    public void Hello_NeitherHasASession_BothStartTheSameOneNamedByTheHandshake()
    {
        using var pair = SessionPair.Run(_alice, _bob);

        Assert.True(pair.Dialer.IsOnline);
        Assert.True(pair.Answerer.IsOnline);
        Assert.Equal(pair.HandshakeHash[..16], pair.Dialer.SessionId.ToArray());
        Assert.Equal(pair.HandshakeHash[..16], pair.Answerer.SessionId.ToArray());
        Assert.Equal(1, _alice.Store.SessionsStarted);
        Assert.Equal(1, _bob.Store.SessionsStarted);
        Assert.Single(pair.DialerOutputs, o => o.CameOnline);
        Assert.Single(pair.AnswererOutputs, o => o.CameOnline);
    }

    [Fact]
    public void Hello_Exchanged_ExporterSecretAndRatchetKeyWipedOnBothSides()
    {
        using var pair = new SessionPair(_alice, _bob).Start();
        Assert.Contains(pair.DialerFacts.ExporterSecret, b => b != 0);

        pair.Settle();

        Assert.All(pair.DialerFacts.ExporterSecret, b => Assert.Equal(0, b));
        Assert.All(pair.AnswererFacts.ExporterSecret, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Hello_BothNameTheSameSession_KeepItAndStartNone()
    {
        byte[] first;
        using (var pair = SessionPair.Run(_alice, _bob))
        {
            first = pair.Dialer.SessionId.ToArray();
        }

        var text = _alice.Send("after a reconnect");
        using var again = SessionPair.Run(_bob, _alice);

        Assert.Equal(first, again.Dialer.SessionId.ToArray());
        Assert.Equal(first, again.Answerer.SessionId.ToArray());
        Assert.Equal(1, _alice.Store.SessionsStarted);
        Assert.Equal(1, _bob.Store.SessionsStarted);
        Assert.Equal([text.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
    }

    [Fact]
    public void Hello_OneSideLostItsSession_BothStartANewOneAndTheOutboxGoesUnderIt()
    {
        SessionPair.RunOnce(_alice, _bob);

        _bob.Store.ForgetSession(_alice.ContactOf(_bob));
        var text = _alice.Send("still delivered");
        using var again = SessionPair.Run(_alice, _bob);

        Assert.Equal(again.HandshakeHash[..16], again.Dialer.SessionId.ToArray());
        Assert.Equal(again.HandshakeHash[..16], again.Answerer.SessionId.ToArray());
        Assert.Equal(2, _alice.Store.SessionsStarted);
        Assert.Equal([text.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Empty(_alice.Closes);
        Assert.Empty(_bob.Closes);
    }

    [Fact]
    public void Hello_FirstFrameIsNotAHello_ClosesWithProtocolViolationAndStoresNothing()
    {
        using var pair = new SessionPair(_alice, _bob);
        pair.Answerer.Start(_bob.Now);

        var output = pair.Answerer.Receive([NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(new byte[64]) })], _bob.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.Contains("not a node hello", output.Close!.Text, StringComparison.Ordinal);
        Assert.Empty(output.Frames);
        Assert.False(_bob.Store.HasSession);
        Assert.False(pair.Answerer.IsOnline);
    }

    [Fact]
    public void Hello_PeerSendsNone_ClosesAtTheHelloDeadlineAndNotBefore()
    {
        using var pair = new SessionPair(_alice, _bob);
        var started = _bob.Now;
        var hello = pair.Answerer.Start(started);
        Assert.Single(hello.Frames);
        Assert.Equal(started + _bob.Options.HelloTimeout, pair.Answerer.WakeAt);

        _bob.Time.Advance(_bob.Options.HelloTimeout - TimeSpan.FromMilliseconds(1));
        Assert.Null(pair.Answerer.Pump(_bob.Now).Close);

        _bob.Time.Advance(TimeSpan.FromMilliseconds(1));
        var output = pair.Answerer.Pump(_bob.Now);

        Assert.Equal(new SessionClose(CloseReason.ProtocolViolation, "the peer sent no hello in time"), output.Close);
        Assert.Null(pair.Answerer.WakeAt);
        Assert.Empty(pair.Answerer.Receive([.. pair.DialerOutputs.SelectMany(o => o.Frames)], _bob.Now).Frames);
    }

    [Fact]
    public void Hello_HelloArrivesBeforeTheDeadline_NoWakeForItAfterwards()
    {
        using var pair = new SessionPair(_alice, _bob).Start();
        Assert.NotNull(pair.Answerer.WakeAt);

        pair.Settle();
        _bob.Time.Advance(_bob.Options.HelloTimeout * 2);

        Assert.Null(pair.Answerer.WakeAt);
        Assert.Null(pair.Answerer.Pump(_bob.Now).Close);
        Assert.True(pair.Answerer.IsOnline);
    }

    [Fact]
    public void Hello_InviteTokenKept_PresentedOnceAndSpentWhenTheHellosAreExchanged()
    {
        _alice.InviteToken = [1, 2, 3, 4];
        using var pair = new SessionPair(_alice, _bob).Start();
        Assert.True(NodeWire.TryParseFrame(pair.DialerOutputs[0].Frames[0], out var frame));
        Assert.Equal([1, 2, 3, 4], frame.Hello.InviteToken.ToByteArray());
        Assert.Equal(0, _alice.Store.InvitesDelivered);

        pair.Settle();

        Assert.Equal(1, _alice.Store.InvitesDelivered);
        Assert.Null(pair.Dialer.Contact.InviteToken);
    }

    [Fact]
    public void Hello_DialerNamesItsListenPort_AnswererClaimsItAtTheAddressItSaw()
    {
        using var pair = new SessionPair(_alice, _bob, dialerSeenAt: new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.5"), 50_123), listenPort: 7_331).Start();
        pair.Settle();

        Assert.Equal(new PeerEndpoint("127.0.0.5", 7_331), Assert.Single(pair.AnswererOutputs, o => o.ClaimedEndpoint is not null).ClaimedEndpoint);
        Assert.DoesNotContain(pair.DialerOutputs, o => o.ClaimedEndpoint is not null);
    }

    [Fact]
    public void Hello_AnswererSendsAnInvalidRatchetKey_DialerClosesWithoutStartingASession()
    {
        using var pair = new SessionPair(_alice, _bob);
        pair.Dialer.Start(_alice.Now);
        var forged = new Hello { RatchetKey = ByteString.CopyFrom(new byte[32]) };

        var output = pair.Dialer.Receive([NodeWire.Encode(new NodeFrame { Hello = forged })], _alice.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.False(_alice.Store.HasSession);
    }
}
