using SecureChat.Protocol.Channel;

namespace SecureChat.Net.Tests;

public sealed class SecureConnectionTests
{
    [Fact]
    public async Task ConnectAsync_UnknownThenKnownKey_UsesXxThenIkAndMessagesFlowBothWays()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();

        var first = await loop.DialAsync(listener);
        var accepted = await loop.AcceptAsync(listener);
        Assert.Equal(ChannelPattern.XX, first.Pattern);
        Assert.Equal(loop.Bob.Account, first.PeerAccount);
        Assert.Equal(loop.Alice.Account, accepted.PeerAccount);
        Assert.Equal(first.HandshakeHash.ToArray(), accepted.HandshakeHash.ToArray());

        var second = await loop.DialAsync(listener, loop.Bob.Certificate.DeviceAgreementKey.ToArray());
        var acceptedSecond = await loop.AcceptAsync(listener);
        Assert.Equal(ChannelPattern.IK, second.Pattern);
        Assert.Equal(ChannelPattern.IK, acceptedSecond.Pattern);

        await second.SendAsync("to bob"u8.ToArray(), loop.Token);
        Assert.Equal("to bob"u8.ToArray(), await acceptedSecond.ReceiveAsync(loop.Token));
        await acceptedSecond.SendAsync("to alice"u8.ToArray(), loop.Token);
        Assert.Equal("to alice"u8.ToArray(), await second.ReceiveAsync(loop.Token));
    }

    [Fact]
    public async Task StopAcceptingAsync_AConnectionThatFinishedItsHandshake_IsStillHandedOverAndCarriesMessages()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        // IK: the responder finishes its handshake (it writes the last message) before the dialer does.
        var dialed = await loop.DialAsync(listener, loop.Bob.Certificate.DeviceAgreementKey.ToArray());
        Assert.Equal(ChannelPattern.IK, dialed.Pattern);

        // The dialer counts itself connected; stopping the listener must not drop it unseen.
        await listener.StopAcceptingAsync();
        var accepted = await loop.AcceptAsync(listener);
        await dialed.SendAsync("after the stop"u8.ToArray(), loop.Token);
        Assert.Equal("after the stop"u8.ToArray(), await accepted.ReceiveAsync(loop.Token));

        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(async () => await listener.AcceptAsync(loop.Token));
        var refused = await Assert.ThrowsAsync<NetworkException>(() => loop.DialAsync(listener));
        Assert.Equal(NetworkError.ConnectionRefused, refused.Error);
    }

    [Fact]
    public async Task ConnectAsync_StaleKnownKey_FallsBackToXxAndTheVerifierSeesTheRealKey()
    {
        await using var loop = new Loopback();
        using var carol = Protocol.Identity.LocalIdentity.Create("carol", DateTimeOffset.UnixEpoch);
        var listener = loop.Listen();
        HandshakePayload? seen = null;

        var connection = await loop.DialAsync(listener, carol.Certificate.DeviceAgreementKey.ToArray(), peer =>
        {
            seen = peer;
            return null;
        });

        Assert.Equal(ChannelPattern.XX, connection.Pattern);
        Assert.Equal(loop.Bob.Account, seen?.Certificate.Account);
    }

    [Fact]
    public async Task ConnectAsync_InitiatorRefusesTheResponder_FailsBeforeRevealingItself()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();

        var error = await Assert.ThrowsAsync<ChannelException>(() => loop.DialAsync(listener, verify: _ =>
            new PeerRejection(ChannelError.PeerKeyMismatch, "not the pinned key", "refused")));

        Assert.Equal(ChannelError.PeerKeyMismatch, error.Error);
        var inbound = await listener.AcceptAsync(loop.Token);
        Assert.Null(inbound.Connection);
        Assert.Equal(ChannelError.ClosedDuringHandshake, Assert.IsType<ChannelException>(inbound.Failure).Error);
    }

    [Fact]
    public async Task HandshakeAsync_ResponderRefusesTheInitiator_InitiatorLearnsWhyFromTheCloseFrame()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen(verify: _ => new PeerRejection(ChannelError.PeerKeyMismatch, "changed key", "your key changed"));

        var connection = await loop.DialAsync(listener);
        var received = await connection.ReceiveAsync(loop.Token);

        Assert.Null(received);
        Assert.Equal(new PeerClose(CloseReason.PeerKeyRejected, "your key changed"), connection.PeerClose);
        var inbound = await listener.AcceptAsync(loop.Token);
        Assert.Equal(ChannelError.PeerKeyMismatch, Assert.IsType<ChannelException>(inbound.Failure).Error);
    }

    [Fact]
    public async Task ConnectAsync_IkInitiatorRefusesTheResponder_TellsItInACloseFrame()
    {
        // In IK the initiator's identity went out in message 1 and the handshake is complete when it
        // judges the responder: it refuses with a close frame, as a responder does.
        await using var loop = new Loopback();
        var listener = loop.Listen();

        var error = await Assert.ThrowsAsync<ChannelException>(() => loop.DialAsync(
            listener, loop.Bob.Certificate.DeviceAgreementKey.ToArray(), _ => new PeerRejection(ChannelError.PeerKeyMismatch, "no", "not you")));
        var bob = await loop.AcceptAsync(listener);

        Assert.Equal(ChannelError.PeerKeyMismatch, error.Error);
        Assert.Null(await bob.ReceiveAsync(loop.Token));
        Assert.Equal(new PeerClose(CloseReason.PeerKeyRejected, "not you"), bob.PeerClose);
    }

    [Fact]
    public async Task CloseAsync_AfterDisposeOrAfterThePeerVanished_DoesNotThrow()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        var alice = await loop.DialAsync(listener);
        var bob = await loop.AcceptAsync(listener);

        await bob.DisposeAsync();
        await alice.CloseAsync(CloseReason.Normal, "bye", loop.Token);
        await bob.CloseAsync(CloseReason.Normal, "bye", loop.Token);
        await bob.DisposeAsync();

        await Assert.ThrowsAsync<ChannelException>(async () => await bob.SendAsync(new byte[1], loop.Token));
    }

    [Fact]
    public async Task CloseAsync_PeerNeverAnswers_GivesUpAfterTheCloseTimeoutAndReceiveCanBeAbandoned()
    {
        await using var loop = new Loopback();
        var options = new ChannelOptions { CloseTimeout = TimeSpan.FromMilliseconds(200) };
        var listener = loop.Listen(options);
        await using var raw = await loop.DialRawAsync(listener);
        var bob = await loop.AcceptAsync(listener);
        using var abandon = new CancellationTokenSource();
        var receiving = bob.ReceiveAsync(abandon.Token).AsTask();

        await bob.CloseAsync(CloseReason.Normal, "bye", loop.Token);
        await abandon.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving);
        Assert.Equal(CloseReason.Normal, raw.Session.Read(await raw.ReadFrameAsync(loop.Token)).Reason);
    }

    [Fact]
    public async Task ReceiveAsync_OversizeFrame_ClosesWithAStatedReason()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen(new ChannelOptions { MaxFrameSize = 1024 });
        await using var raw = await loop.DialRawAsync(listener);
        var bob = await loop.AcceptAsync(listener);

        await raw.WriteAsync(new byte[] { 0x08, 0x00 }, loop.Token);
        await raw.WriteAsync(new byte[2048], loop.Token);

        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.FrameTooLarge, error.Error);
        Assert.Contains("1024", error.Message, StringComparison.Ordinal);
        var close = raw.Session.Read(await raw.ReadFrameAsync(loop.Token));
        Assert.Equal(ChannelReadKind.Closed, close.Kind);
        Assert.Equal(CloseReason.FrameTooLarge, close.Reason);
    }

    [Fact]
    public async Task ReceiveAsync_FrameCutShortByTheEndOfTheStream_ReportsATruncatedFrame()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        await using var raw = await loop.DialRawAsync(listener);
        var bob = await loop.AcceptAsync(listener);
        var frame = raw.SealMessage("cut me"u8.ToArray());

        await raw.WriteAsync(frame.AsMemory(0, frame.Length - 3), loop.Token);
        await raw.EndOutputAsync();

        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.TruncatedFrame, error.Error);
    }

    [Fact]
    public async Task ReceiveAsync_ReplayedFrame_ClosesAsAnAuthenticationFailure()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        await using var raw = await loop.DialRawAsync(listener);
        var bob = await loop.AcceptAsync(listener);
        var frame = raw.SealMessage("pay 10"u8.ToArray());

        await raw.WriteAsync(frame, loop.Token);
        await raw.WriteAsync(frame, loop.Token);

        Assert.Equal("pay 10"u8.ToArray(), await bob.ReceiveAsync(loop.Token));
        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.AuthenticationFailed, error.Error);
        var close = raw.Session.Read(await raw.ReadFrameAsync(loop.Token));
        Assert.Equal(CloseReason.AuthenticationFailed, close.Reason);
    }

    [Fact]
    public async Task ReceiveAsync_PeerVanishesWithoutClosing_ReportsTheConnectionLost()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        var raw = await loop.DialRawAsync(listener);
        var bob = await loop.AcceptAsync(listener);

        await raw.DisposeAsync();

        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.ConnectionLost, error.Error);
    }

    [Fact]
    public async Task AcceptAsync_PeerThatNeverSpeaks_TimesOutTheHandshake()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen(new ChannelOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var silent = new System.Net.Sockets.TcpClient();
        await silent.ConnectAsync(System.Net.IPAddress.Loopback, listener.LocalEndPoint.Port, loop.Token);

        var inbound = await listener.AcceptAsync(loop.Token);

        Assert.Equal(ChannelError.HandshakeTimeout, Assert.IsType<ChannelException>(inbound.Failure).Error);
    }

    [Fact]
    public async Task ConnectAsync_ResponderThatNeverAnswers_TimesOutTheHandshake()
    {
        await using var loop = new Loopback();
        using var mute = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        mute.Start();
        var port = ((System.Net.IPEndPoint)mute.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<ChannelException>(() => ChannelDialer.ConnectAsync(
            new PeerEndpoint("127.0.0.1", port), loop.Alice, default, Loopback.AcceptAll, new ChannelOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) }, loop.Token));

        Assert.Equal(ChannelError.HandshakeTimeout, error.Error);
    }

    [Fact]
    public async Task AcceptAsync_NotASecureChatPeer_IsRefusedAsUnsupported()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        using var http = new System.Net.Sockets.TcpClient();
        await http.ConnectAsync(System.Net.IPAddress.Loopback, listener.LocalEndPoint.Port, loop.Token);

        await http.GetStream().WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), loop.Token);

        var inbound = await listener.AcceptAsync(loop.Token);
        Assert.Equal(ChannelError.UnsupportedPeer, Assert.IsType<ChannelException>(inbound.Failure).Error);
    }

    [Fact]
    public async Task SendAsync_ManyMessagesWithFrequentRekeys_AllArriveInOrder()
    {
        await using var loop = new Loopback();
        var options = new ChannelOptions { RekeyAfterMessages = 4 };
        var listener = loop.Listen(options);
        var alice = await loop.DialAsync(listener, options: options);
        var bob = await loop.AcceptAsync(listener);

        for (var i = 0; i < 25; i++)
        {
            await alice.SendAsync(BitConverter.GetBytes(i), loop.Token);
        }

        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(i, BitConverter.ToInt32(await bob.ReceiveAsync(loop.Token)));
        }

        Assert.Equal(6, alice.SendRekeys);
        Assert.Equal(6, bob.ReceiveRekeys);
    }

    [Fact]
    public async Task CloseAsync_AfterManyMessages_PeerReceivesEveryOneThenTheClose()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        var alice = await loop.DialAsync(listener);
        var bob = await loop.AcceptAsync(listener);
        var received = new List<int>();
        var receiving = Task.Run(async () =>
        {
            while (await bob.ReceiveAsync(loop.Token) is { } message)
            {
                received.Add(BitConverter.ToInt32(message));
            }
        });

        for (var i = 0; i < 200; i++)
        {
            await alice.SendAsync(BitConverter.GetBytes(i), loop.Token);
        }

        await alice.CloseAsync(CloseReason.Normal, "bye", loop.Token);
        await receiving;

        Assert.Equal(Enumerable.Range(0, 200), received);
        Assert.Equal(new PeerClose(CloseReason.Normal, "bye"), bob.PeerClose);
        Assert.Null(await alice.ReceiveAsync(loop.Token));
        Assert.Equal(CloseReason.Normal, alice.PeerClose?.Reason);
        await Assert.ThrowsAsync<ChannelException>(async () => await alice.SendAsync(new byte[1], loop.Token));
    }
}
