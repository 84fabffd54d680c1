using System.Diagnostics.CodeAnalysis;
using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Alice and Bob in one process: the ordinary flow, misuse, and a long conversation over a network
/// that loses, reorders and duplicates messages.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The network schedule must be reproducible from a fixed seed; no key is drawn from it.")]
public sealed class RatchetConversationTests
{
    private const int MessageCount = 5000;
    private const int ReorderWindow = 8;

    private sealed record InFlight(int Id, string Text, byte[] Message);

    [Fact]
    public void TryDecrypt_LossyReorderedDuplicatedNetwork_DeliversEveryArrivingMessageOnce()
    {
        var random = new Random(20260101);
        using var pair = RatchetPair.Create();
        var toBob = new List<InFlight>();
        var toAlice = new List<InFlight>();
        var decrypted = new HashSet<int>();
        var highestDecrypted = new Dictionary<RatchetSession, int> { [pair.Alice] = -1, [pair.Bob] = -1 };
        var now = RatchetPair.Start;
        var (sent, lost, duplicatesRejected, outOfOrder) = (0, 0, 0, 0);

        while (sent < MessageCount || toBob.Count > 0 || toAlice.Count > 0)
        {
            now += TimeSpan.FromSeconds(random.Next(1, 60));
            if (sent < MessageCount && random.Next(2) == 0)
            {
                var fromAlice = !pair.Bob.CanSend || random.Next(2) == 0;
                var text = $"{(fromAlice ? "alice" : "bob")} {sent} {random.Next()}";
                var message = (fromAlice ? pair.Alice : pair.Bob).Encrypt(RatchetPair.Utf8(text));
                var copies = random.Next(100) switch { < 10 => 0, < 15 => 2, _ => 1 };
                lost += copies == 0 ? 1 : 0;
                for (var copy = 0; copy < copies; copy++)
                {
                    (fromAlice ? toBob : toAlice).Add(new InFlight(sent, text, message));
                }

                sent++;
                continue;
            }

            var queue = (random.Next(2) == 0 && toBob.Count > 0) || toAlice.Count == 0 ? toBob : toAlice;
            if (queue.Count == 0)
            {
                continue;
            }

            var index = random.Next(Math.Min(ReorderWindow, queue.Count));
            var item = queue[index];
            queue.RemoveAt(index);
            var receiver = queue == toBob ? pair.Bob : pair.Alice;
            if (decrypted.Contains(item.Id))
            {
                var before = receiver.Export();
                Assert.NotEqual(RatchetError.None, receiver.TryDecrypt(item.Message, now, out var replayed));
                Assert.Null(replayed);
                Assert.Equal(before, receiver.Export());
                duplicatesRejected++;
                continue;
            }

            Assert.Equal(RatchetError.None, receiver.TryDecrypt(item.Message, now, out var plaintext));
            Assert.Equal(item.Text, Encoding.UTF8.GetString(plaintext!));
            decrypted.Add(item.Id);
            outOfOrder += item.Id < highestDecrypted[receiver] ? 1 : 0;
            highestDecrypted[receiver] = Math.Max(highestDecrypted[receiver], item.Id);
        }

        Assert.Equal(MessageCount - lost, decrypted.Count);
        Assert.True(lost > 100 && duplicatesRejected > 100 && outOfOrder > 100, $"lost {lost}, duplicates {duplicatesRejected}, out of order {outOfOrder}");
    }

    [Fact]
    public void TryDecrypt_AliceFirstMessage_LetsBobReply()
    {
        using var pair = RatchetPair.Create();
        Assert.True(pair.Alice.CanSend);
        Assert.False(pair.Bob.CanSend);

        Assert.Equal("hello", RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("hello"u8)));

        Assert.True(pair.Bob.CanSend);
        Assert.Equal("hi", RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("hi"u8)));
    }

    [Fact]
    public void Encrypt_BobBeforeAliceFirstMessage_Throws()
    {
        using var pair = RatchetPair.Create();

        Assert.Throws<InvalidOperationException>(() => pair.Bob.Encrypt("too early"u8));
    }

    [Fact]
    public void TryDecrypt_EmptyPlaintext_RoundTrips()
    {
        using var pair = RatchetPair.Create();

        var message = pair.Alice.Encrypt([]);

        Assert.Equal(41 + 16, message.Length);
        Assert.Equal(string.Empty, RatchetPair.Receive(pair.Bob, message));
    }

    [Fact]
    public void TryDecrypt_OtherAssociatedData_IsUnauthenticated()
    {
        using var alice = RatchetSession.InitializeAlice(RatchetPair.SharedSecret, RatchetPair.BobRatchetPublicKey, "alice|bob"u8);
        using var bob = RatchetSession.InitializeBob(RatchetPair.SharedSecret, RatchetPair.BobRatchetPrivateKey, "alice|mallory"u8);

        RatchetPair.AssertRejected(bob, alice.Encrypt("hello"u8), RatchetError.Unauthenticated);
    }

    [Fact]
    public void TryDecrypt_OtherSharedSecret_IsUnauthenticated()
    {
        using var alice = RatchetSession.InitializeAlice(new byte[32], RatchetPair.BobRatchetPublicKey, RatchetPair.AssociatedData);
        using var bob = RatchetSession.InitializeBob(RatchetPair.SharedSecret, RatchetPair.BobRatchetPrivateKey, RatchetPair.AssociatedData);

        RatchetPair.AssertRejected(bob, alice.Encrypt("hello"u8), RatchetError.Unauthenticated);
    }

    [Fact]
    public void Encrypt_SendingChainExhausted_ThrowsButStillReceives()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(1);
        var state = pair.Alice.Export();
        // Ns is the big-endian u32 at offset 198 of the exported state (docs/ratchet.md, section 5).
        state.AsSpan(198, 4).Fill(0xFF);
        using var alice = RatchetSession.Import(state);
        Assert.NotNull(alice);

        Assert.False(alice.CanSend);
        Assert.Throws<InvalidOperationException>(() => alice.Encrypt("one too many"u8));
        Assert.Equal("bob 1", RatchetPair.Receive(alice, pair.Bob.Encrypt("bob 1"u8)));
        Assert.Throws<InvalidOperationException>(() => alice.Encrypt("still too many"u8));
    }

    [Fact]
    public void Encrypt_LastNumberOfChain_IsAccepted()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(1);
        var state = pair.Alice.Export();
        state.AsSpan(198, 4).Fill(0xFF);
        state[201] = 0xFE;
        using var alice = RatchetSession.Import(state);
        Assert.NotNull(alice);

        Assert.True(alice.CanSend);
        var message = alice.Encrypt("last"u8);

        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFE], message[37..41]);
        Assert.Throws<InvalidOperationException>(() => alice.Encrypt("one too many"u8));
    }

    [Fact]
    public void InitializeAlice_BadArguments_Throw()
    {
        var tooLong = new byte[RatchetSession.MaxAssociatedDataSize + 1];
        var smallOrder = new byte[32];

        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeAlice(new byte[31], RatchetPair.BobRatchetPublicKey, []));
        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeAlice(RatchetPair.SharedSecret, new byte[33], []));
        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeAlice(RatchetPair.SharedSecret, smallOrder, []));
        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeAlice(RatchetPair.SharedSecret, RatchetPair.BobRatchetPublicKey, tooLong));
    }

    [Fact]
    public void InitializeBob_BadArguments_Throw()
    {
        var tooLong = new byte[RatchetSession.MaxAssociatedDataSize + 1];

        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeBob(new byte[33], RatchetPair.BobRatchetPrivateKey, []));
        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeBob(RatchetPair.SharedSecret, new byte[31], []));
        Assert.Throws<ArgumentException>(() => RatchetSession.InitializeBob(RatchetPair.SharedSecret, RatchetPair.BobRatchetPrivateKey, tooLong));
    }

    [Fact]
    public void RatchetOptions_OutOfRange_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RatchetOptions { MaxSkipPerChain = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new RatchetOptions { MaxSkippedKeys = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new RatchetOptions { SkippedKeyLifetime = TimeSpan.Zero });
    }

    [Fact]
    public void Dispose_ThenUse_ThrowsObjectDisposed()
    {
        var pair = RatchetPair.Create();
        var message = pair.Alice.Encrypt("hello"u8);
        pair.Dispose();

        Assert.False(pair.Alice.CanSend);
        Assert.Throws<ObjectDisposedException>(() => pair.Alice.Encrypt("hello"u8));
        Assert.Throws<ObjectDisposedException>(() => pair.Bob.TryDecrypt(message, RatchetPair.Start, out _));
        Assert.Throws<ObjectDisposedException>(() => pair.Bob.Export());
        Assert.Throws<ObjectDisposedException>(() => pair.Bob.ExpireSkippedKeys(RatchetPair.Start));
    }

    [Fact]
    public void InitializeBob_KeyPairFromCrypto_WorksWithAlice()
    {
        var (bobPrivate, bobPublic) = (new byte[X25519.KeySize], new byte[X25519.KeySize]);
        X25519.GenerateKeyPair(bobPrivate, bobPublic);
        using var alice = RatchetSession.InitializeAlice(RatchetPair.SharedSecret, bobPublic, []);
        using var bob = RatchetSession.InitializeBob(RatchetPair.SharedSecret, bobPrivate, []);

        Assert.Equal("hello", RatchetPair.Receive(bob, alice.Encrypt("hello"u8)));
    }
}
