namespace SecureChat.Bench.Search;

/// <summary>One query of the benchmark's mix: what a person types, optionally within one conversation.</summary>
public sealed record SearchQuery(string Label, string Text, int? Conversation = null)
{
    /// <summary>Results per query, newest first.</summary>
    public const int Limit = 20;

    /// <summary>The normalized, distinct terms; every one must begin a word of a matching message.</summary>
    public IReadOnlyList<string> Terms { get; } = TextNormalizer.QueryTerms(Text);
}
