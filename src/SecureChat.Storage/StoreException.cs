namespace SecureChat.Storage;

/// <summary>Why the data directory could not be used.</summary>
public enum StoreError
{
    NotInitialized,
    AlreadyInitialized,
    PassphraseRequired,
    WrongPassphrase,
    Corrupt,
    Unreadable,

    /// <summary>A sealed value failed authentication: the database was modified outside SecureChat.</summary>
    Tampered,

    /// <summary>A name or ID the person typed matches no contact, or more than one.</summary>
    NoSuchContact,

    /// <summary>A name or ID is already taken by another contact.</summary>
    Conflict,

    /// <summary>A conversation's outbox holds as many undelivered messages as it takes (<see cref="Outbox.MaxPerContact"/>).</summary>
    OutboxFull,

    /// <summary>The disk holding the data directory is full: the write was not made, and what was stored before is intact.</summary>
    DiskFull,
}

/// <summary>A failure of the data directory, with a sentence a person can act on.</summary>
public sealed class StoreException : Exception
{
    public StoreException(StoreError error, string message)
        : base(message)
    {
        Error = error;
    }

    public StoreException(StoreError error, string message, Exception innerException)
        : base(message, innerException)
    {
        Error = error;
    }

    public StoreException()
        : this(StoreError.Corrupt, "The data directory could not be used.")
    {
    }

    public StoreException(string message)
        : this(StoreError.Corrupt, message)
    {
    }

    public StoreException(string message, Exception innerException)
        : this(StoreError.Corrupt, message, innerException)
    {
    }

    public StoreError Error { get; }
}
