namespace SecureChat.Bench.Search;

/// <summary>
/// Draws ranks 0..n-1 with probability proportional to 1/(rank+1)^s (Zipf's law, which word
/// frequencies in natural text roughly follow with s ≈ 1), by binary search in the cumulative sums.
/// </summary>
public sealed class ZipfSampler
{
    private readonly double[] _cumulative;

    public ZipfSampler(int n, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        _cumulative = new double[n];
        var sum = 0.0;
        for (var rank = 0; rank < n; rank++)
        {
            sum += 1.0 / Math.Pow(rank + 1, exponent);
            _cumulative[rank] = sum;
        }

        for (var rank = 0; rank < n; rank++)
        {
            _cumulative[rank] /= sum;
        }
    }

    public int Next(SplitMix64 random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var index = Array.BinarySearch(_cumulative, random.NextDouble());
        return Math.Min(index < 0 ? ~index : index, _cumulative.Length - 1);
    }

    /// <summary>The probability of <paramref name="rank"/>.</summary>
    public double Probability(int rank) => rank == 0 ? _cumulative[0] : _cumulative[rank] - _cumulative[rank - 1];
}
