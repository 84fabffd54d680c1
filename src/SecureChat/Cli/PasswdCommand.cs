using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary><c>securechat passwd</c>: re-wraps the data key under a new passphrase; nothing else is re-encrypted.</summary>
internal static class PasswdCommand
{
    public const string NewPassphraseVariable = "SECURECHAT_NEW_PASSPHRASE";

    public static int Run(string directory, bool noPassphrase)
    {
        var old = IdentityFile.ReadProtection(directory) == KeyProtection.Passphrase ? PassphraseSource.ReadExisting(directory) : [];
        byte[] fresh = [];
        try
        {
            // The old passphrase is checked before a new one is asked for.
            var (identity, dataKey) = IdentityFile.Unlock(directory, old);
            identity.Dispose();
            dataKey.Dispose();

            if (!noPassphrase)
            {
                fresh = PassphraseSource.Read(
                    NewPassphraseVariable,
                    "New passphrase: ",
                    "Repeat the new passphrase: ",
                    $"A new passphrase is needed and there is no terminal to ask on: set {NewPassphraseVariable}.");
            }
            else
            {
                Console.Error.WriteLine($"warning: the keys will be stored without a passphrase: anyone who can read {directory} can use this identity.");
            }

            IdentityFile.ChangePassphrase(directory, old, fresh, protect: !noPassphrase, Argon2idParameters.Default);
            Console.WriteLine(noPassphrase ? "The passphrase was removed." : "The passphrase was changed.");
            return ExitCodes.Ok;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(old);
            CryptographicOperations.ZeroMemory(fresh);
        }
    }
}
