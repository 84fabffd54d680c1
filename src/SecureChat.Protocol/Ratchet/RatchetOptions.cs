namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// Local policy for a <see cref="RatchetSession"/>: how far it follows a gap in the message stream,
/// and how many skipped message keys it keeps, and for how long. None of it is part of the exported
/// state; a session takes the options it is created or imported with.
/// </summary>
public sealed record RatchetOptions
{
    /// <summary>The options every session gets when none are given.</summary>
    public static RatchetOptions Default { get; } = new();

    /// <summary>
    /// The most message keys one received header may make the session skip in one chain
    /// (MAX_SKIP of the Double Ratchet specification, section 3.2); 1000 by default. Zero means no
    /// gap is followed: every message must arrive in order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int MaxSkipPerChain
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    } = 1000;

    /// <summary>
    /// The most skipped message keys held at once, over all chains; 2000 by default. Beyond it the
    /// keys stored first are deleted first.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int MaxSkippedKeys
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    } = 2000;

    /// <summary>
    /// How long a skipped message key is kept after it was stored; 30 days by default. An older key
    /// is deleted, and the late message it would have opened is lost: keys kept forever would undo
    /// forward secrecy for whoever later steals the state.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan SkippedKeyLifetime
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromDays(30);
}
