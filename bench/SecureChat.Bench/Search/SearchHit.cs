namespace SecureChat.Bench.Search;

/// <summary>A message found, with its conversation and time, and its text (opened for display).</summary>
public sealed record SearchHit(long MessageId, int Conversation, long SentAtMs, string Text);
