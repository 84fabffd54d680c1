namespace SecureChat.Cli;

/// <summary>A malformed argument; its message says what is wrong and how to write it.</summary>
internal sealed class UsageException(string message) : Exception(message);
