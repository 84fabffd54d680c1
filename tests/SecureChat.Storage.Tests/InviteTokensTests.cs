using System.Text;
using SecureChat.Testing;

namespace SecureChat.Storage.Tests;

/// <summary>
/// One-time invite tokens: each is good once, until it expires, only on the node that issued it,
/// survives a restart, and is never on disk in clear (only a keyed digest and sealed times are).
/// </summary>
public sealed class InviteTokensTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly MovableClock _clock = new(T0);

    public void Dispose() => _home.Dispose();

    [Fact]
    public void TryRedeem_IssuedToken_SucceedsOnceThenFails()
    {
        using var store = _home.Open(time: _clock);
        var token = store.Invites.Issue();

        Assert.Equal(InviteTokens.TokenBytes, token.Length);
        Assert.Equal(1, store.Invites.Outstanding);
        Assert.True(store.Invites.TryRedeem(token));
        Assert.False(store.Invites.TryRedeem(token));
        Assert.Equal(0, store.Invites.Outstanding);
    }

    [Fact]
    public void TryRedeem_UnknownOrWrongSizedToken_FailsAndSpendsNothing()
    {
        using var store = _home.Open(time: _clock);
        var token = store.Invites.Issue();
        var other = (byte[])token.Clone();
        other[^1] ^= 1;

        Assert.False(store.Invites.TryRedeem(other));
        Assert.False(store.Invites.TryRedeem([]));
        Assert.False(store.Invites.TryRedeem(token.AsSpan(0, 15)));
        Assert.False(store.Invites.TryRedeem([.. token, 0]));
        Assert.True(store.Invites.TryRedeem(token));
    }

    [Fact]
    public void TryRedeem_AfterTheLifetime_FailsAndIsForgotten()
    {
        using var store = _home.Open(time: _clock);
        var early = store.Invites.Issue();
        var late = store.Invites.Issue();
        var kept = store.Invites.Issue();

        _clock.Now = T0 + InviteTokens.Lifetime - TimeSpan.FromMilliseconds(1);
        Assert.True(store.Invites.TryRedeem(early));
        _clock.Now = T0 + InviteTokens.Lifetime;

        Assert.False(store.Invites.TryRedeem(late));
        Assert.Equal(0, store.Invites.Outstanding);
        Assert.False(store.Invites.TryRedeem(kept));
    }

    [Fact]
    public void TryRedeem_AfterReopening_StillWorksOnce()
    {
        byte[] token;
        using (var store = _home.Open(time: _clock))
        {
            token = store.Invites.Issue();
        }

        using (var reopened = _home.Open(time: _clock))
        {
            Assert.True(reopened.Invites.TryRedeem(token));
        }

        using var again = _home.Open(time: _clock);
        Assert.False(again.Invites.TryRedeem(token));
    }

    [Fact]
    public void TryRedeem_TokenOfAnotherStore_Fails()
    {
        using var other = new StoreHome();
        byte[] token;
        using (var theirs = other.Open(time: _clock))
        {
            token = theirs.Invites.Issue();
        }

        using var store = _home.Open(time: _clock);
        Assert.False(store.Invites.TryRedeem(token));
    }

    [Fact]
    public void Issue_PastTheCap_ForgetsTheOldest()
    {
        using var store = _home.Open(time: _clock);
        var oldest = store.Invites.Issue();
        _clock.Now += TimeSpan.FromSeconds(1);
        var second = store.Invites.Issue();
        for (var i = 2; i < InviteTokens.MaxOutstanding; i++)
        {
            store.Invites.Issue();
        }

        _clock.Now += TimeSpan.FromSeconds(1);
        store.Invites.Issue();

        Assert.Equal(InviteTokens.MaxOutstanding, store.Invites.Outstanding);
        Assert.False(store.Invites.TryRedeem(oldest));
        Assert.True(store.Invites.TryRedeem(second));
    }

    [Fact]
    public void Files_HoldNoTokenInClear()
    {
        var tokens = new List<byte[]>();
        using (var store = _home.Open(time: _clock))
        {
            for (var i = 0; i < 5; i++)
            {
                tokens.Add(store.Invites.Issue());
            }

            store.Invites.TryRedeem(tokens[0]);
            AssertNoFileHolds(Secrets(tokens));
        }

        AssertNoFileHolds(Secrets(tokens));
        Assert.Equal(4L, _home.Scalar<long>("SELECT count(*) FROM invites"));
    }

    [Fact]
    public void Files_ContactAddedWithToken_HoldNoTokenInClear()
    {
        using var bob = Peer.Create();
        var token = Convert.ToBase64String(Enumerable.Range(40, 16).Select(i => (byte)i).ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        using (var store = _home.Open(time: _clock))
        {
            var contact = store.Contacts.Add(bob.Account, "Bob", null, T0, token);
            Assert.Equal(token, contact.InviteToken);
        }

        AssertNoFileHolds([Encoding.UTF8.GetBytes(token), Encoding.Unicode.GetBytes(token), [.. Enumerable.Range(40, 16).Select(i => (byte)i)]]);
        using var reopened = _home.Open(time: _clock);
        var kept = reopened.Contacts.Find(bob.Account)!;
        Assert.Equal(token, kept.InviteToken);
        Assert.Null(reopened.Contacts.ClearInviteToken(kept).InviteToken);
        Assert.Null(reopened.Contacts.Find(bob.Account)!.InviteToken);
    }

    private static List<byte[]> Secrets(List<byte[]> tokens) =>
    [
        .. tokens,
        .. tokens.Select(t => Encoding.UTF8.GetBytes(Convert.ToBase64String(t).TrimEnd('=').Replace('+', '-').Replace('/', '_'))),
        .. tokens.Select(t => Encoding.UTF8.GetBytes(Convert.ToHexString(t))),
        .. tokens.Select(t => Encoding.UTF8.GetBytes(Convert.ToHexStringLower(t))),
    ];

    private void AssertNoFileHolds(IReadOnlyList<byte[]> secrets)
    {
        var files = Directory.GetFiles(_home.Path, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        Assert.Empty(DataFiles.Holding(files, secrets));
    }

    private sealed class MovableClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
