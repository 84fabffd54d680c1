namespace SecureChat.Bench.Search;

/// <summary>One design of the search index, ready to answer queries.</summary>
public interface ISearchStore : IDisposable
{
    /// <summary>The newest <see cref="SearchQuery.Limit"/> messages matching every term, newest first.</summary>
    IReadOnlyList<SearchHit> Search(SearchQuery query);

    /// <summary>Stores one more message durably (synchronous = FULL), index included.</summary>
    void Add(long messageId, int conversation, long sentAtMs, string text);
}
