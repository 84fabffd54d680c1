namespace SecureChat.Cli;

/// <summary>The process exit codes, documented in the README.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>A network or channel failure: refused, timed out, lost, handshake failed.</summary>
    public const int Failure = 1;

    /// <summary>The command line or an argument is malformed.</summary>
    public const int Usage = 2;

    /// <summary>The identity could not be unlocked: wrong or missing passphrase, damaged files.</summary>
    public const int Identity = 3;

    /// <summary>A peer presented a key other than the pinned one, and was refused.</summary>
    public const int PeerKeyRefused = 4;

    /// <summary>A bug: something no sentence was written for.</summary>
    public const int Internal = 70;
}
