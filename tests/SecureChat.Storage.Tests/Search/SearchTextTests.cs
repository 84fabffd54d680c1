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
}
