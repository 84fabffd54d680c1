using System.Text;

namespace SecureChat.Cli;

/// <summary>
/// Where the passphrase comes from: <c>SECURECHAT_PASSPHRASE</c> when set, else the terminal
/// (without echo). With neither, a clear error. The bytes are the caller's to wipe.
/// </summary>
internal static class PassphraseSource
{
    public const string EnvironmentVariable = "SECURECHAT_PASSPHRASE";

    /// <summary>Reads the passphrase that unlocks an existing identity.</summary>
    public static byte[] ReadExisting(string directory)
    {
        if (FromEnvironment() is { } fromEnvironment)
        {
            return fromEnvironment;
        }

        EnsureTerminal();
        return Prompt($"Passphrase for {directory}: ");
    }

    /// <summary>Reads a new passphrase: twice on a terminal, to catch typing mistakes.</summary>
    public static byte[] ReadNew()
    {
        if (FromEnvironment() is { } fromEnvironment)
        {
            return fromEnvironment;
        }

        EnsureTerminal();
        while (true)
        {
            var first = Prompt("New passphrase: ");
            if (first.Length == 0)
            {
                Console.Error.WriteLine("An empty passphrase protects nothing; type one, or use `securechat init --no-passphrase` for an unattended node.");
                continue;
            }

            var second = Prompt("Repeat the passphrase: ");
            if (first.AsSpan().SequenceEqual(second))
            {
                Array.Clear(second);
                return first;
            }

            Array.Clear(first);
            Array.Clear(second);
            Console.Error.WriteLine("The two passphrases differ; try again.");
        }
    }

    private static byte[]? FromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrEmpty(value) ? null : Encoding.UTF8.GetBytes(value);
    }

    private static void EnsureTerminal()
    {
        if (Console.IsInputRedirected)
        {
            throw new Storage.StoreException(
                Storage.StoreError.PassphraseRequired,
                $"A passphrase is needed and there is no terminal to ask on: set {EnvironmentVariable}, or create an unattended identity with `securechat init --no-passphrase`.");
        }
    }

    private static byte[] Prompt(string prompt)
    {
        Console.Error.Write(prompt);
        var chars = new List<char>();
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter)
                {
                    break;
                }

                if (key.Key == ConsoleKey.Backspace)
                {
                    if (chars.Count > 0)
                    {
                        chars.RemoveAt(chars.Count - 1);
                    }

                    continue;
                }

                if (!char.IsControl(key.KeyChar))
                {
                    chars.Add(key.KeyChar);
                }
            }

            Console.Error.WriteLine();
            return Encoding.UTF8.GetBytes(chars.ToArray());
        }
        finally
        {
            // The list's backing array cannot be wiped through List<T>; overwrite what it holds.
            for (var i = 0; i < chars.Count; i++)
            {
                chars[i] = '\0';
            }
        }
    }
}
