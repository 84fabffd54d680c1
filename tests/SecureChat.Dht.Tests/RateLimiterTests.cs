using System.Net;

namespace SecureChat.Dht.Tests;

/// <summary>
/// The query rate limits: a token bucket per source address (burst of twice the rate), one for
/// all addresses together, and a cap on how many addresses are tracked at once.
/// </summary>
public sealed class RateLimiterTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
    private static readonly IPAddress Alice = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress Mallory = IPAddress.Parse("192.0.2.66");

    [Fact]
    public void Allow_NewAddress_AllowsABurstOfTwiceTheRate()
    {
        var limiter = new RateLimiter(new DhtOptions { QueriesPerSecondPerAddress = 10 });

        Assert.Equal(20, Allowed(limiter, Mallory, 100, Start));
    }

    [Fact]
    public void Allow_AfterOneSecond_RefillsByTheRate()
    {
        var limiter = new RateLimiter(new DhtOptions { QueriesPerSecondPerAddress = 10 });
        Allowed(limiter, Mallory, 100, Start);

        Assert.Equal(10, Allowed(limiter, Mallory, 100, Start.AddSeconds(1)));
        Assert.Equal(20, Allowed(limiter, Mallory, 100, Start.AddMinutes(1)));
    }

    [Fact]
    public void Allow_ManyAddresses_AreCappedByTheTotalRate()
    {
        var limiter = new RateLimiter(new DhtOptions { QueriesPerSecond = 100 });

        Assert.Equal(100, Enumerable.Range(0, 300).Count(i => limiter.Allow(Address(i), Start)));
        Assert.Equal(100, Enumerable.Range(300, 300).Count(i => limiter.Allow(Address(i), Start.AddSeconds(1))));
    }

    [Fact]
    public void Allow_OneAddressFarOverItsBudget_LeavesTheTotalToOthers()
    {
        var limiter = new RateLimiter(new DhtOptions { QueriesPerSecond = 100, QueriesPerSecondPerAddress = 10 });

        Assert.Equal(20, Allowed(limiter, Mallory, 10_000, Start));

        Assert.Equal(80, Enumerable.Range(0, 200).Count(i => limiter.Allow(Address(i), Start)));
    }

    [Fact]
    public void Allow_TrackedAddressesFull_RefusesNewAddressesUntilBucketsRefill()
    {
        var limiter = new RateLimiter(new DhtOptions { MaxTrackedAddresses = 2, QueriesPerSecondPerAddress = 10 });
        Assert.True(limiter.Allow(Alice, Start));
        Assert.True(limiter.Allow(Mallory, Start));

        Assert.False(limiter.Allow(Address(1), Start));
        Assert.True(limiter.Allow(Alice, Start));

        // Once the tracked buckets are full again they cost nothing to forget.
        Assert.True(limiter.Allow(Address(1), Start.AddSeconds(1)));
    }

    private static int Allowed(RateLimiter limiter, IPAddress address, int attempts, DateTimeOffset now) =>
        Enumerable.Range(0, attempts).Count(_ => limiter.Allow(address, now));

    private static IPAddress Address(int index) => new([10, (byte)(index >> 16), (byte)(index >> 8), (byte)index]);
}
