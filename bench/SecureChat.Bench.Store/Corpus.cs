namespace SecureChat.Bench.Store;

/// <summary>A deterministic chat corpus: Zipf-distributed words from a mixed vocabulary, several scripts.</summary>
internal sealed class Corpus(int seed)
{
    private static readonly string[] Common =
    [
        "the", "I", "you", "to", "a", "and", "it", "is", "that", "of", "meet", "tomorrow", "phone", "photo", "dentist",
        "mañana", "café", "über", "straße", "привет", "спасибо", "καλημέρα", "ευχαριστώ", "søndag", "zażółć", "ok", "lol",
    ];

    private readonly Random _random = new(seed);
    private readonly string[] _vocabulary = Build(seed);

    public string Line()
    {
        var words = 3 + (int)(22 * Math.Pow(_random.NextDouble(), 2));
        return string.Join(' ', Enumerable.Range(0, words).Select(_ => Word()));
    }

    /// <summary>A conversation index in [0, <paramref name="count"/>), the first ones busiest.</summary>
    public int Conversation(int count) => (int)(count * Math.Pow(_random.NextDouble(), 2));

    private string Word()
    {
        // Zipf-like: rank ~ u^3 over the vocabulary; the common words dominate.
        var rank = (int)(_vocabulary.Length * Math.Pow(_random.NextDouble(), 3));
        var word = _vocabulary[Math.Min(rank, _vocabulary.Length - 1)];
        return _random.Next(20) == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word;
    }

    private static string[] Build(int seed)
    {
        var random = new Random(seed + 1);
        const string Syllables = "ka,ri,mo,te,lu,sa,ne,po,vi,da,ré,ün,øy,ja,ше,ла,ко,μα,τα,ση";
        var parts = Syllables.Split(',');
        var invented = Enumerable.Range(0, 40_000).Select(_ => string.Concat(Enumerable.Range(0, 2 + random.Next(3)).Select(_ => parts[random.Next(parts.Length)])));
        return [.. Common, .. invented];
    }
}
