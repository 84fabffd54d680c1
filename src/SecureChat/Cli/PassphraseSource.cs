using System.Security.Cryptography;
using System.Text;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary>
/// Where a passphrase comes from: its environment variable when set, else the terminal (without
/// echo; twice for a new one). With neither, a clear error. The bytes are the caller's to wipe.
/// </summary>
internal static class PassphraseSource
{
    public const string EnvironmentVariable = "SECURECHAT_PASSPHRASE";

    /// <summary>Reads the passphrase that unlocks an existing identity.</summary>
    public static byte[] ReadExisting(string directory) =>
        Read(EnvironmentVariable, $"Passphrase for {directory}: ", repeatPrompt: null, MissingIdentityPassphrase);

    /// <summary>Reads a new identity passphrase.</summary>
    public static byte[] ReadNew() =>
        Read(EnvironmentVariable, "New passphrase: ", "Repeat the passphrase: ", MissingIdentityPassphrase);

    /// <summary>
    /// Reads a passphrase from <paramref name="variable"/>, else from the terminal; with a
    /// <paramref name="repeatPrompt"/>, asks twice until both agree and refuses an empty one.
    /// </summary>
    public static byte[] Read(string variable, string prompt, string? repeatPrompt, string missing)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(value))
        {
            return Encoding.UTF8.GetBytes(value);
        }

        if (Console.IsInputRedirected)
        {
            throw new StoreException(StoreError.PassphraseRequired, missing);
        }

        if (repeatPrompt is null)
        {
            return Prompt(prompt);
        }

        while (true)
        {
            var first = Prompt(prompt);
            if (first.Length == 0)
            {
                Console.Error.WriteLine("An empty passphrase protects nothing; type one.");
                continue;
            }

            var second = Prompt(repeatPrompt);
            var same = first.AsSpan().SequenceEqual(second);
            CryptographicOperations.ZeroMemory(second);
            if (same)
            {
                return first;
            }

            CryptographicOperations.ZeroMemory(first);
            Console.Error.WriteLine("The two passphrases differ; try again.");
        }
    }

    private static string MissingIdentityPassphrase =>
        $"A passphrase is needed and there is no terminal to ask on: set {EnvironmentVariable}, or create an unattended identity with `securechat init --no-passphrase`.";

    /// <summary>Reads a line from the terminal without echo.</summary>
    private static byte[] Prompt(string prompt)
    {
        Console.Error.Write(prompt);
        var chars = new List<char>();
        try
        {
            for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
            {
                if (key.Key == ConsoleKey.Backspace)
                {
                    if (chars.Count > 0)
                    {
                        chars.RemoveAt(chars.Count - 1);
                    }
                }
                else if (!char.IsControl(key.KeyChar))
                {
                    chars.Add(key.KeyChar);
                }
            }

            Console.Error.WriteLine();
            var typed = chars.ToArray();
            try
            {
                return Encoding.UTF8.GetBytes(typed);
            }
            finally
            {
                Array.Clear(typed);
            }
        }
        finally
        {
            // List<T> cannot wipe its backing array; overwrite what it holds instead.
            for (var i = 0; i < chars.Count; i++)
            {
                chars[i] = '\0';
            }
        }
    }
}
