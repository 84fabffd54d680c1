using SecureChat.Storage;

namespace SecureChat.Node.Tests;

/// <summary>
/// The receive quota's rules (docs/protocol.md 6.10): texts and bytes per sliding window, per peer,
/// the limit a function of the peer, the day's counts seeded from the store, duplicates given back.
/// </summary>
public sealed class ReceiveQuotaTests
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    /// <summary>15 minutes: one slice of a day's window.</summary>
    private static readonly TimeSpan Slice = Day / ReceiveQuota.Buckets;

    private static readonly DateTimeOffset Noon = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static readonly Contact Carol = NewContact("carol");
    private static readonly Contact Dave = NewContact("dave");

    [Fact]
    public void TryTake_UpToTheMessageLimit_AdmitsThenRefusesWithTheLimitAndWhenTheOldestLeaves()
    {
        var quota = Quota(new QuotaLimit(3, 1 << 20));

        for (var i = 0; i < 3; i++)
        {
            Assert.True(quota.TryTake(Carol, 10, Noon + TimeSpan.FromMinutes(i)).Admitted);
        }

        var refused = quota.TryTake(Carol, 10, Noon + TimeSpan.FromMinutes(5));
        Assert.False(refused.Admitted);
        Assert.Equal(QuotaReason.Messages, refused.Reason);
        Assert.Equal(3, refused.Limit);

        // All three arrived in the slice starting at noon: one fits again when that slice leaves the window.
        Assert.Equal(Noon + Day, refused.RetryAt);
        Assert.Equal((3, 30), quota.Usage(Carol, Noon + TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void TryTake_AtTheRetryTime_AdmitsAgainAndNotBefore()
    {
        var quota = Quota(new QuotaLimit(2, 1 << 20));
        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);
        Assert.True(quota.TryTake(Carol, 1, Noon + TimeSpan.FromHours(6)).Admitted);
        var refused = quota.TryTake(Carol, 1, Noon + TimeSpan.FromHours(7));
        Assert.Equal(Noon + Day, refused.RetryAt);

        Assert.False(quota.TryTake(Carol, 1, refused.RetryAt - TimeSpan.FromMilliseconds(1)).Admitted);
        Assert.True(quota.TryTake(Carol, 1, refused.RetryAt).Admitted);

        // The noon text left; the one of 18:00 is still counted, with the new one: full again.
        Assert.False(quota.TryTake(Carol, 1, refused.RetryAt + TimeSpan.FromMinutes(1)).Admitted);
    }

    [Fact]
    public void TryTake_BytesLimit_TheTextThatCrossesItIsTheLastAdmitted()
    {
        var quota = Quota(new QuotaLimit(100, 1000));

        Assert.True(quota.TryTake(Carol, 600, Noon).Admitted);
        Assert.True(quota.TryTake(Carol, 600, Noon).Admitted);
        var refused = quota.TryTake(Carol, 1, Noon);

        Assert.False(refused.Admitted);
        Assert.Equal(QuotaReason.Bytes, refused.Reason);
        Assert.Equal(1000, refused.Limit);
    }

    [Fact]
    public void TryTake_TextsSpreadOverTheDay_RetryWhenEnoughOfTheOldestHaveLeft()
    {
        var quota = Quota(new QuotaLimit(100, 1000));
        Assert.True(quota.TryTake(Carol, 500, Noon).Admitted);
        Assert.True(quota.TryTake(Carol, 400, Noon + TimeSpan.FromHours(1)).Admitted);
        Assert.True(quota.TryTake(Carol, 400, Noon + TimeSpan.FromHours(2)).Admitted);

        // 1,300 bytes counted; the noon text leaving brings it to 800, under the limit.
        var refused = quota.TryTake(Carol, 1, Noon + TimeSpan.FromHours(3));
        Assert.Equal(Noon + Day, refused.RetryAt);
    }

    [Fact]
    public void TryTake_OnePeerOverItsQuota_AnotherPeerStillAdmitted()
    {
        var quota = Quota(new QuotaLimit(1, 1 << 20));
        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);
        Assert.False(quota.TryTake(Carol, 1, Noon).Admitted);

        Assert.True(quota.TryTake(Dave, 1, Noon).Admitted);
    }

    [Fact]
    public void TryTake_LimitDependsOnThePeer_EachGetsItsOwnAndAChangeAppliesAtOnce()
    {
        var requests = new HashSet<string> { Dave.Account };
        var quota = new ReceiveQuota(Day, c => requests.Contains(c.Account) ? new QuotaLimit(5, 8 << 10) : new QuotaLimit(5_000, 20L << 20), NoHistory);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(quota.TryTake(Dave, 100, Noon).Admitted);
            Assert.True(quota.TryTake(Carol, 100, Noon).Admitted);
        }

        Assert.False(quota.TryTake(Dave, 100, Noon).Admitted);
        Assert.True(quota.TryTake(Carol, 100, Noon).Admitted);

        // Accepted as a contact: the larger limit counts what it already sent.
        requests.Clear();
        Assert.True(quota.TryTake(Dave, 100, Noon).Admitted);
        Assert.Equal((6, 600), quota.Usage(Dave, Noon));
    }

    [Fact]
    public void TryTake_AfterARestart_CountsWhatTheStoreReceivedWithinTheWindowOnly()
    {
        var since = new List<DateTimeOffset>();
        var quota = new ReceiveQuota(Day, _ => new QuotaLimit(3, 1 << 20), (contact, from) =>
        {
            since.Add(from);
            return contact == Carol
                ? [(Noon - TimeSpan.FromHours(30), 100), (Noon - TimeSpan.FromHours(20), 100), (Noon - TimeSpan.FromHours(1), 100)]
                : [];
        });

        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);
        Assert.False(quota.TryTake(Carol, 1, Noon).Admitted);

        // Asked once, from the start of the window's oldest slice; the text of 30 hours ago is outside it.
        Assert.Equal(Noon - Day + Slice, Assert.Single(since));
        Assert.Equal((3, 201), quota.Usage(Carol, Noon));
    }

    [Fact]
    public void Return_ADuplicateThatWasCounted_GivesItsQuotaBack()
    {
        var quota = Quota(new QuotaLimit(1, 1 << 20));
        Assert.True(quota.TryTake(Carol, 40, Noon).Admitted);

        quota.Return(Carol, 40, Noon);

        Assert.Equal((0, 0), quota.Usage(Carol, Noon));
        Assert.True(quota.TryTake(Carol, 40, Noon).Admitted);
    }

    [Fact]
    public void TryTake_ClockSetBack_DoesNotReopenTheWindow()
    {
        var quota = Quota(new QuotaLimit(1, 1 << 20));
        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);

        Assert.False(quota.TryTake(Carol, 1, Noon - TimeSpan.FromDays(3)).Admitted);
    }

    [Fact]
    public void TryTake_LimitOfZero_RefusesForAWholeWindow()
    {
        var quota = Quota(new QuotaLimit(0, 0));

        var refused = quota.TryTake(Carol, 1, Noon);

        Assert.False(refused.Admitted);
        Assert.Equal(Noon + Day, refused.RetryAt);
    }

    [Fact]
    public void Forget_ARemovedPeer_StartsAgainFromTheStore()
    {
        var quota = Quota(new QuotaLimit(1, 1 << 20));
        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);

        quota.Forget(Carol);

        Assert.True(quota.TryTake(Carol, 1, Noon).Admitted);
    }

    [Fact]
    public void Constructor_NegativeLimit_IsRefusedAtTheFirstText()
    {
        var quota = Quota(new QuotaLimit(-1, 10));

        Assert.Throws<ArgumentOutOfRangeException>(() => quota.TryTake(Carol, 1, Noon));
    }

    private static ReceiveQuota Quota(QuotaLimit limit) => new(Day, _ => limit, NoHistory);

    private static IReadOnlyList<(DateTimeOffset ReceivedAt, long Bytes)> NoHistory(Contact contact, DateTimeOffset since) => [];

    private static Contact NewContact(string name) => new()
    {
        Account = name + new string('y', 52 - name.Length),
        Name = name,
        FirstSeen = Noon,
        LastSeen = Noon,
    };
}
