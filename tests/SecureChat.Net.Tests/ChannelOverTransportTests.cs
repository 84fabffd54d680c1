using System.Net;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Protocol.Channel;

namespace SecureChat.Net.Tests;

/// <summary>
/// The channel's contract on every transport (<see cref="Transports"/>): an in-memory pipe with no
/// socket, and TCP on loopback. Timeouts run on a fake clock, so none of these waits for time.
/// </summary>
public sealed class ChannelOverTransportTests
{
    public static TheoryData<string> Kinds => Transports.All;

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ConnectAsync_UnknownThenKnownKey_BothSidesAgreeOnTheHandshake(string kind)
    {
        await using var loop = new Loopback();

        var (alice, bob) = await loop.ConnectAsync(kind);
        var (aliceIk, bobIk) = await loop.ConnectAsync(kind, knownKey: loop.Bob.Certificate.DeviceAgreementKey.ToArray());

        Assert.Equal(new[] { ChannelPattern.XX, ChannelPattern.XX, ChannelPattern.IK, ChannelPattern.IK }, new[] { alice.Pattern, bob.Pattern, aliceIk.Pattern, bobIk.Pattern });
        Assert.True(alice.IsInitiator);
        Assert.False(bob.IsInitiator);
        Assert.Equal(loop.Bob.Account, alice.PeerAccount);
        Assert.Equal(loop.Alice.Account, bob.PeerAccount);
        Assert.Equal(alice.HandshakeHash.ToArray(), bob.HandshakeHash.ToArray());
        Assert.Equal(alice.ExporterSecret.ToArray(), bob.ExporterSecret.ToArray());
        Assert.NotEqual(alice.HandshakeHash.ToArray(), aliceIk.HandshakeHash.ToArray());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RemoteEndPoint_KnownOnlyWhereTheTransportHasAnAddress(string kind)
    {
        await using var loop = new Loopback();

        var (alice, bob) = await loop.ConnectAsync(kind);

        if (kind == Transports.Tcp)
        {
            // The dialer's socket is dual-stack: it may see the IPv4 peer as ::ffff:127.0.0.1.
            Assert.Equal(IPAddress.Loopback, Assert.IsType<IPEndPoint>(alice.RemoteEndPoint).Address.MapToIPv4());
            Assert.Equal(IPAddress.Loopback, Assert.IsType<IPEndPoint>(bob.RemoteEndPoint).Address.MapToIPv4());
        }
        else
        {
            Assert.Null(alice.RemoteEndPoint);
            Assert.Null(bob.RemoteEndPoint);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task SendAsync_BothWaysUpToTheLargestMessage_EveryMessageArrivesInOrder(string kind)
    {
        await using var loop = new Loopback();
        var (alice, bob) = await loop.ConnectAsync(kind);
        var largest = new byte[ChannelSession.MaxMessageSize];
        largest.AsSpan().Fill(0x5a);

        await alice.SendAsync("one"u8.ToArray(), loop.Token);
        await alice.SendAsync(largest, loop.Token);
        await alice.SendAsync(Array.Empty<byte>(), loop.Token);
        await bob.SendAsync("back"u8.ToArray(), loop.Token);

        Assert.Equal("one"u8.ToArray(), await bob.ReceiveAsync(loop.Token));
        Assert.Equal(largest, await bob.ReceiveAsync(loop.Token));
        Assert.Equal(Array.Empty<byte>(), await bob.ReceiveAsync(loop.Token));
        Assert.Equal("back"u8.ToArray(), await alice.ReceiveAsync(loop.Token));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task SendAsync_AfterTheRekeyCountOrInterval_RotatesKeysAndMessagesStillArrive(string kind)
    {
        await using var loop = new Loopback();
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var options = new ChannelOptions { RekeyAfterMessages = 4, RekeyInterval = TimeSpan.FromMinutes(10), Time = time };
        var (alice, bob) = await loop.ConnectAsync(kind, options);

        for (var i = 0; i < 9; i++)
        {
            await alice.SendAsync(BitConverter.GetBytes(i), loop.Token);
        }

        time.Advance(TimeSpan.FromMinutes(10));
        await alice.SendAsync(BitConverter.GetBytes(9), loop.Token);

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, BitConverter.ToInt32(await bob.ReceiveAsync(loop.Token)));
        }

        // By count before the 5th and the 9th message; by time before the 10th, only the 2nd under its key.
        Assert.Equal(3, alice.SendRekeys);
        Assert.Equal(3, bob.ReceiveRekeys);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CloseAsync_WithAReason_PeerReadsEveryMessageThenTheReasonAndNothingMoreCanBeSent(string kind)
    {
        await using var loop = new Loopback();
        var (alice, bob) = await loop.ConnectAsync(kind);
        var received = new List<int>();
        var receiving = Task.Run(async () =>
        {
            while (await bob.ReceiveAsync(loop.Token) is { } message)
            {
                received.Add(BitConverter.ToInt32(message));
            }
        });

        for (var i = 0; i < 50; i++)
        {
            await alice.SendAsync(BitConverter.GetBytes(i), loop.Token);
        }

        await alice.CloseAsync(CloseReason.PeerKeyRejected, "moved to a new device", loop.Token);
        await receiving;

        Assert.Equal(Enumerable.Range(0, 50), received);
        Assert.Equal(new PeerClose(CloseReason.PeerKeyRejected, "moved to a new device"), bob.PeerClose);
        Assert.Equal(new PeerClose(CloseReason.Normal, string.Empty), alice.PeerClose);
        Assert.Null(await alice.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.ConnectionLost, (await Assert.ThrowsAsync<ChannelException>(async () => await alice.SendAsync(new byte[1], loop.Token))).Error);
        Assert.Equal(ChannelError.ConnectionLost, (await Assert.ThrowsAsync<ChannelException>(async () => await bob.SendAsync(new byte[1], loop.Token))).Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task SendAsync_PeerStopsReading_TheSenderWaitsAndEveryMessageArrivesOnceItReadsAgain(string kind)
    {
        await using var loop = new Loopback();
        var (alice, bob) = await loop.ConnectAsync(kind);

        var (sent, waiting) = await SendUntilASendWaitsAsync(alice, loop.Token);
        var received = 0;
        while (received <= sent)
        {
            var message = await bob.ReceiveAsync(loop.Token);
            Assert.Equal(received, BitConverter.ToInt32(message));
            received++;
        }

        await waiting;
        Assert.Equal(sent + 1, received);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task SendAsync_WaitingOnAPeerThatStoppedReadingAndCancelled_BreaksTheChannel(string kind)
    {
        await using var loop = new Loopback();
        var (alice, _) = await loop.ConnectAsync(kind);
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(loop.Token);

        var (_, waiting) = await SendUntilASendWaitsAsync(alice, abandon.Token);
        await abandon.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        var error = await Assert.ThrowsAsync<ChannelException>(async () => await alice.SendAsync(new byte[1], loop.Token));
        Assert.Equal(ChannelError.ConnectionLost, error.Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task DisposeAsync_WhileASendWaitsOnAPeerThatStoppedReading_EndsTheSend(string kind)
    {
        await using var loop = new Loopback();
        var (alice, _) = await loop.ConnectAsync(kind);

        var (_, waiting) = await SendUntilASendWaitsAsync(alice, loop.Token);
        await alice.DisposeAsync().AsTask().WaitAsync(loop.Token);

        var error = await Assert.ThrowsAsync<ChannelException>(() => waiting);
        Assert.Equal(ChannelError.ConnectionLost, error.Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReceiveAsync_FrameAboveTheLimit_IsRefusedWithAStatedReason(string kind)
    {
        await using var loop = new Loopback();
        var (raw, bob) = await ConnectRawAsync(loop, kind, new ChannelOptions { MaxFrameSize = 1024 });

        await raw.WriteAsync(new byte[] { 0x04, 0x01 }, loop.Token);

        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.FrameTooLarge, error.Error);
        Assert.Contains("1024", error.Message, StringComparison.Ordinal);
        var close = raw.Session.Read(await raw.ReadFrameAsync(loop.Token));
        Assert.Equal(ChannelReadKind.Closed, close.Kind);
        Assert.Equal(CloseReason.FrameTooLarge, close.Reason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReceiveAsync_FrameAtTheLimit_IsRead(string kind)
    {
        await using var loop = new Loopback();
        var (raw, bob) = await ConnectRawAsync(loop, kind, new ChannelOptions { MaxFrameSize = 1024 });
        var frame = raw.SealMessage(new byte[1024 - 16 - 1]);
        Assert.Equal(2 + 1024, frame.Length);

        await raw.WriteAsync(frame, loop.Token);

        Assert.Equal(new byte[1024 - 16 - 1], await bob.ReceiveAsync(loop.Token));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReceiveAsync_StreamEndsInTheMiddleOfAFrame_ReportsATruncatedFrame(string kind)
    {
        await using var loop = new Loopback();
        var (raw, bob) = await ConnectRawAsync(loop, kind);
        var frame = raw.SealMessage("cut me"u8.ToArray());

        await raw.WriteAsync(frame.AsMemory(0, frame.Length - 3), loop.Token);
        await raw.EndOutputAsync();

        var error = await Assert.ThrowsAsync<ChannelException>(async () => await bob.ReceiveAsync(loop.Token));
        Assert.Equal(ChannelError.TruncatedFrame, error.Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReceiveAsync_PeerReleasesItsTransportWithoutClosing_ReportsTheConnectionLost(string kind)
    {
        await using var loop = new Loopback();
        var (raw, bob) = await ConnectRawAsync(loop, kind);
        var receiving = bob.ReceiveAsync(loop.Token).AsTask();

        await raw.DisposeAsync();

        var error = await Assert.ThrowsAsync<ChannelException>(() => receiving);
        Assert.Equal(ChannelError.ConnectionLost, error.Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AcceptAsync_InitiatorThatNeverSpeaks_TimesOutOnTheClockAndReleasesTheStream(string kind)
    {
        await using var loop = new Loopback();
        var time = new FakeTimeProvider();
        var options = new ChannelOptions { HandshakeTimeout = TimeSpan.FromSeconds(10), Time = time };
        var (silent, listener) = await Transports.CreatePairAsync(kind, loop.Token);
        loop.Own(silent);

        var accepting = SecureConnection.AcceptAsync(listener, loop.Bob, Loopback.AcceptAll, options, loop.Token);
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(accepting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));

        var error = await Assert.ThrowsAsync<ChannelException>(() => accepting);
        Assert.Equal(ChannelError.HandshakeTimeout, error.Error);
        Assert.True((await silent.Input.ReadAsync(loop.Token)).IsCompleted, "the responder lets the stream go, sending nothing");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ConnectAsync_ResponderThatNeverAnswers_TimesOutOnTheClock(string kind)
    {
        await using var loop = new Loopback();
        var time = new FakeTimeProvider();
        var options = new ChannelOptions { HandshakeTimeout = TimeSpan.FromSeconds(10), Time = time };
        var (dialer, mute) = await Transports.CreatePairAsync(kind, loop.Token);
        loop.Own(mute);

        var connecting = SecureConnection.ConnectAsync(dialer, loop.Alice, default, Loopback.AcceptAll, options, loop.Token);
        time.Advance(TimeSpan.FromSeconds(10));

        var error = await Assert.ThrowsAsync<ChannelException>(() => connecting);
        Assert.Equal(ChannelError.HandshakeTimeout, error.Error);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AcceptAsync_StreamEndsDuringTheHandshake_ReportsItClosedDuringTheHandshake(string kind)
    {
        await using var loop = new Loopback();
        var (dialer, listener) = await Transports.CreatePairAsync(kind, loop.Token);
        loop.Own(dialer);
        using var handshake = ChannelHandshake.StartInitiator(loop.Alice);

        var accepting = SecureConnection.AcceptAsync(listener, loop.Bob, Loopback.AcceptAll, new ChannelOptions(), loop.Token);
        await dialer.Output.WriteAsync(handshake.Preamble, loop.Token);
        await dialer.Output.CompleteAsync();

        var error = await Assert.ThrowsAsync<ChannelException>(() => accepting);
        Assert.Equal(ChannelError.ClosedDuringHandshake, error.Error);
    }

    /// <summary>
    /// Sends numbered messages of the largest size until one has to wait for the peer to read.
    /// Bounded: a transport that buffered without limit would fail here rather than eat memory.
    /// </summary>
    private static async Task<(int Sent, Task Waiting)> SendUntilASendWaitsAsync(SecureConnection sender, CancellationToken cancellationToken)
    {
        const int bound = 4096;
        var message = new byte[ChannelSession.MaxMessageSize];
        for (var i = 0; i < bound; i++)
        {
            BitConverter.TryWriteBytes(message, i);
            var sending = sender.SendAsync(message, cancellationToken);
            if (!sending.IsCompleted)
            {
                return (i, sending.AsTask());
            }

            await sending;
        }

        Assert.Fail($"{bound} messages of {message.Length} bytes went out to a peer that reads nothing, and none had to wait.");
        return default;
    }

    private static async Task<(RawPeer Raw, SecureConnection Bob)> ConnectRawAsync(Loopback loop, string kind, ChannelOptions? options = null)
    {
        var (dialer, listener) = await Transports.CreatePairAsync(kind, loop.Token);
        var accepting = SecureConnection.AcceptAsync(listener, loop.Bob, Loopback.AcceptAll, options ?? new ChannelOptions(), loop.Token);
        var raw = loop.Own(await RawPeer.HandshakeAsync(dialer, loop.Alice, loop.Token));
        return (raw, loop.Own(await accepting));
    }
}
