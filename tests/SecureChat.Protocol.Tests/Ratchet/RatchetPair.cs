using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Alice and Bob in one process: sessions from one fixed shared secret and Bob's fixed ratchet key,
/// and helpers that send a line from one to the other and check it arrives.
/// </summary>
internal sealed class RatchetPair : IDisposable
{
    public static readonly byte[] SharedSecret = Enumerable.Range(0x00, 32).Select(i => (byte)i).ToArray();
    public static readonly byte[] BobRatchetPrivateKey = Enumerable.Range(0x40, 32).Select(i => (byte)i).ToArray();
    public static readonly byte[] AssociatedData = "alice|bob"u8.ToArray();
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private RatchetPair(RatchetSession alice, RatchetSession bob)
    {
        Alice = alice;
        Bob = bob;
    }

    public RatchetSession Alice { get; private set; }

    public RatchetSession Bob { get; private set; }

    public static byte[] BobRatchetPublicKey
    {
        get
        {
            var publicKey = new byte[X25519.KeySize];
            X25519.DerivePublicKey(BobRatchetPrivateKey, publicKey);
            return publicKey;
        }
    }

    public static RatchetPair Create(RatchetOptions? options = null) => new(
        RatchetSession.InitializeAlice(SharedSecret, BobRatchetPublicKey, AssociatedData, options),
        RatchetSession.InitializeBob(SharedSecret, BobRatchetPrivateKey, AssociatedData, options));

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Decrypts a message that must be accepted and returns its text.</summary>
    public static string Receive(RatchetSession receiver, byte[] message, DateTimeOffset? now = null)
    {
        Assert.Equal(RatchetError.None, receiver.TryDecrypt(message, now ?? Start, out var plaintext));
        return Encoding.UTF8.GetString(plaintext!);
    }

    /// <summary>Asserts that a message is rejected with <paramref name="expected"/> and changes nothing.</summary>
    public static void AssertRejected(RatchetSession receiver, byte[] message, RatchetError expected, DateTimeOffset? now = null)
    {
        var before = receiver.Export();
        Assert.Equal(expected, receiver.TryDecrypt(message, now ?? Start, out var plaintext));
        Assert.Null(plaintext);
        Assert.Equal(before, receiver.Export());
    }

    /// <summary>Alice and Bob each send <paramref name="roundTrips"/> lines to the other, alternating, starting with Alice.</summary>
    public void Converse(int roundTrips)
    {
        for (var i = 0; i < roundTrips; i++)
        {
            Assert.Equal($"alice {i}", Receive(Bob, Alice.Encrypt(Utf8($"alice {i}"))));
            Assert.Equal($"bob {i}", Receive(Alice, Bob.Encrypt(Utf8($"bob {i}"))));
        }
    }

    /// <summary>Replaces both sessions with copies made through Export and Import, as a restart would.</summary>
    public void Reload(RatchetOptions? options = null)
    {
        Alice = Reload(Alice, options);
        Bob = Reload(Bob, options);
    }

    public void Dispose()
    {
        Alice.Dispose();
        Bob.Dispose();
    }

    private static RatchetSession Reload(RatchetSession session, RatchetOptions? options)
    {
        var state = session.Export();
        session.Dispose();
        var reloaded = RatchetSession.Import(state, options);
        Assert.NotNull(reloaded);
        return reloaded;
    }
}
