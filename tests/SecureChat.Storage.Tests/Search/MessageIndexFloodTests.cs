using System.Globalization;
using SecureChat.Storage.Search;

namespace SecureChat.Storage.Tests.Search;

/// <summary>
/// The index under a flood of new words (docs/performance.md, "Search after a flood"): new terms
/// after the first query go to a second tier that is merged now and then, so a flood costs a few
/// writes per term, counted here by event rather than timed; and every word is still found, in
/// whichever tier it is.
/// </summary>
public sealed class MessageIndexFloodTests
{
    [Fact]
    public void Add_FloodOfNewTermsAfterTheFirstQuery_WritesEachTermIntoTheSortedTermsAFewTimesOnly()
    {
        var index = new MessageIndex();
        index.Add(1, 1, ["hello"]);
        Assert.Single(index.Query(["hello"], null, 10));

        // 300 texts of 1,000 words never seen before: 300,000 new terms.
        const int Texts = 300;
        const int Words = 1_000;
        for (var t = 0; t < Texts; t++)
        {
            index.Add(t + 2, 1, [.. Enumerable.Range(0, Words).Select(w => Word(t, w))]);
        }

        // Inserting each into one sorted list of all terms moved about n²/4 = 2.25e10 references;
        // the tiers merge once per 25 % of growth, about 5 n in all.
        const long NewTerms = Texts * Words;
        Assert.InRange(index.SortedWrites, 1, 6 * NewTerms);
        Assert.Equal([Texts + 1L], index.Query([Word(Texts - 1, Words - 1)], null, 10));
    }

    [Fact]
    public void Query_TermsInBothTiersAndAcrossMerges_FindsEveryMessageWithAWordOfThePrefix()
    {
        var index = new MessageIndex();
        var texts = new List<string[]>();
        void Add(string[] terms)
        {
            texts.Add(terms);
            index.Add(texts.Count, 1, terms);
        }

        Add(["alpha", "beta"]);
        Assert.Single(index.Query(["alp"], null, 100));

        // Enough new terms for merges (the recent tier holds at most 4,096 before the first one),
        // then a few that stay in the recent tier, sharing prefixes with those merged.
        for (var t = 0; t < 12; t++)
        {
            Add([.. Enumerable.Range(0, 1_000).Select(w => Word(t, w))]);
        }

        Add(["alphabet", Word(0, 0) + "x", "zulu"]);

        foreach (var prefix in new[] { "alp", "alpha", "alphab", "zu", Word(0, 0), Word(5, 17)[..4], "b", "q" })
        {
            var expected = Enumerable.Range(0, texts.Count)
                .Where(i => texts[i].Any(term => term.StartsWith(prefix, StringComparison.Ordinal)))
                .Select(i => (long)i + 1)
                .Reverse()
                .ToList();
            Assert.Equal(expected, index.Query([prefix], null, texts.Count));
        }
    }

    /// <summary>A word unique to (text, position): letters only, as the index's terms are.</summary>
    private static string Word(int text, int position) =>
        "w" + Letters(text) + "q" + Letters(position);

    private static string Letters(int value) =>
        string.Concat(value.ToString(CultureInfo.InvariantCulture).Select(d => (char)('a' + d - '0')));
}
