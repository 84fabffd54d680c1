using CsCheck;
using SecureChat.Storage.Search;

namespace SecureChat.Storage.Tests.Search;

public sealed class SearchTextTests
{
    [Theory]
    [InlineData("Hello, World!", new[] { "hello", "world" })]
    [InlineData("Café CAFÉ cafe", new[] { "cafe" })]
    [InlineData("Über straße", new[] { "uber", "straße" })]
    [InlineData("Привет, Мир", new[] { "привет", "мир" })]
    [InlineData("Ελληνικά γλώσσα", new[] { "ελληνικα", "γλωσσα" })]
    [InlineData("e-mail me@home.org 42", new[] { "e", "mail", "me", "home", "org", "42" })]
    [InlineData("  ", new string[0])]
    public void Terms_Text_AreLowerCaseWithoutAccentsSplitAtNonLetters(string text, string[] expected)
    {
        Assert.Equal(expected, SearchText.Terms(text));
    }

    [Fact]
    public void Terms_VeryLongWord_IsCutToTheMaximumLength()
    {
        var term = Assert.Single(SearchText.Terms(new string('a', 100)));

        Assert.Equal(SearchText.MaxTermLength, term.Length);
    }

    [Fact]
    public void Terms_ComposedAndDecomposedForms_GiveTheSameTerm()
    {
        Assert.Equal(SearchText.Terms("n\u0303o"), SearchText.Terms("\u00F1o"));
    }

    [Fact]
    public void Hits_WordsTheTermBegins_AreFoundWhereverTheyAre()
    {
        const string text = "Hello world, help! unhelpful helpers";

        var hits = SearchText.Hits(text, SearchText.Terms("hel"));

        Assert.Equal([(0, 5), (13, 4), (29, 7)], hits);
        Assert.Equal(["Hello", "help", "helpers"], hits.Select(h => text.Substring(h.Start, h.Length)));
    }

    [Fact]
    public void Hits_TermInAnyCase_IgnoresCase()
    {
        Assert.Equal([(0, 5), (6, 5)], SearchText.Hits("HELLO hello", SearchText.Terms("HeLLo")));
        Assert.Equal([(4, 6)], SearchText.Hits("Say ПРИВЕТ", SearchText.Terms("привет")));
    }

    [Fact]
    public void Hits_AfterSurrogatePairsAndAccents_CountUtf16UnitsOfTheOriginalText()
    {
        const string text = "🎉🎉 Ünïcödé wörds: wor";

        var hits = SearchText.Hits(text, SearchText.Terms("wor"));

        Assert.Equal([(13, 5), (20, 3)], hits);
        Assert.Equal(["wörds", "wor"], hits.Select(h => text.Substring(h.Start, h.Length)));
    }

    [Theory]
    [InlineData("un café noir", "cafe", 3, 4)]
    [InlineData("un café noir", "café", 3, 4)]
    [InlineData("un CAFÉ noir", "cafe", 3, 4)]
    [InlineData("un cafe noir", "café", 3, 4)]
    [InlineData("un cafe\u0301 noir", "cafe", 3, 5)]
    [InlineData("un cafe\u0301 noir", "café", 3, 5)]
    [InlineData("un cafe\u0301\u0327s noir", "cafes", 3, 7)]
    public void Hits_Accents_AreFoldedAndAWordKeepsItsCombiningMarks(string text, string query, int start, int length)
    {
        var hits = SearchText.Hits(text, SearchText.Terms(query));

        Assert.Equal([(start, length)], hits);
    }

    [Fact]
    public void Hits_DecomposedText_GivesOneHitCoveringTheCombiningMark()
    {
        const string text = "cafe\u0301";

        var hit = Assert.Single(SearchText.Hits(text, SearchText.Terms("café")));

        Assert.Equal((0, 5), hit);
        Assert.Equal(text, text.Substring(hit.Start, hit.Length));
    }

    [Fact]
    public void Hits_SeveralTerms_FindsEachInTextOrder()
    {
        const string text = "Carol met Bob, then bobby met carolyn and Dave.";

        var hits = SearchText.Hits(text, SearchText.Terms("bob carol"));

        Assert.Equal(["Carol", "Bob", "bobby", "carolyn"], hits.Select(h => text.Substring(h.Start, h.Length)));
    }

    [Theory]
    [InlineData("nothing to see here", "missing")]
    [InlineData("unhelpful", "help")]
    [InlineData("hel", "hello")]
    [InlineData("", "a")]
    [InlineData("some text", "")]
    public void Hits_NoWordBegunByATerm_IsEmpty(string text, string query)
    {
        Assert.Empty(SearchText.Hits(text, SearchText.Terms(query)));
    }

    [Fact]
    public void Hits_TermCutToMaxTermLength_StillHitsTheLongWord()
    {
        var word = string.Concat(Enumerable.Repeat("abcdefghij", 5));
        var text = "a " + word + " b";
        var terms = SearchText.Terms(word);
        Assert.Equal(SearchText.MaxTermLength, Assert.Single(terms).Length);

        var hits = SearchText.Hits(text, terms);

        Assert.Equal([(2, word.Length)], hits);
    }

    [Fact]
    public void Hits_GeneratedTextAndTerms_EachHitIsAWordATermBeginsInOrderWithoutOverlap()
    {
        Gen.Select(Pieces().Array[0, 30], Pieces().Array[0, 4], Gen.Int[0, 3]).Sample(
            (textPieces, queryPieces, ownWords) =>
            {
                var text = string.Concat(textPieces);
                var textTerms = SearchText.Terms(text);
                var terms = SearchText.Terms(string.Join(' ', queryPieces)).Concat(textTerms.Take(ownWords)).ToList();

                var hits = SearchText.Hits(text, terms);

                var end = 0;
                foreach (var (start, length) in hits)
                {
                    Assert.True(start >= end, $"hit at {start} overlaps or precedes the one ending at {end}");
                    Assert.True(length > 0);
                    end = start + length;
                    Assert.True(end <= text.Length);
                    var folded = Assert.Single(SearchText.Terms(text.Substring(start, length)));
                    Assert.Contains(terms, term => folded.StartsWith(term, StringComparison.Ordinal));
                }

                if (ownWords > 0 && textTerms.Count > 0)
                {
                    Assert.NotEmpty(hits);
                }
            },
            iter: 2000);
    }

    [Fact]
    public void Hits_ArbitraryText_NeverThrowsAndStaysInBounds()
    {
        Gen.Select(Gen.String, Pieces().Array[0, 3]).Sample(
            (text, query) =>
            {
                foreach (var (start, length) in SearchText.Hits(text, SearchText.Terms(string.Join(' ', query))))
                {
                    Assert.InRange(start, 0, text.Length - 1);
                    Assert.InRange(length, 1, text.Length - start);
                }
            },
            iter: 2000);
    }

    /// <summary>Words and separators that exercise folding: case, precomposed and decomposed accents, other scripts, surrogate pairs.</summary>
    private static Gen<string> Pieces() =>
        Gen.OneOf(
            "a", "ab", "Abc", "HELLO", "hel", "42", "x1", "é", "É", "e\u0301", "E\u0301", "\u0301", "n\u0303", "ñ", "ß", "Straße",
            "привет", "Мир", "γλώσσα", "日本語", "🎉", "👍🏽", " ", "  ", ",", "-", ".", "\n", "'", "@",
            new string('z', 40));
}
