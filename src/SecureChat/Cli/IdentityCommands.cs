using QRCoder;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary><c>securechat init</c> and <c>securechat id</c>.</summary>
internal static class IdentityCommands
{
    public static int Init(string directory, string? name, bool noPassphrase)
    {
        name ??= NodeHome.DefaultName();
        if (!HandshakePayload.IsValidDisplayName(name))
        {
            throw new UsageException($"A name is at most {HandshakePayload.MaxDisplayNameBytes} bytes of UTF-8 and has no control characters.");
        }

        if (noPassphrase)
        {
            Console.Error.WriteLine(
                $"warning: the private keys are stored without a passphrase: anyone who can read {directory} can use this identity. "
                + "Use --no-passphrase only for unattended nodes.");
        }

        using var home = NodeHome.Create(directory, name, protect: !noPassphrase);
        Console.WriteLine($"Created an identity for '{name}' in {directory}");
        Console.WriteLine($"ID:          {home.Identity.Account}");
        Console.WriteLine($"Fingerprint: {home.Identity.Account.Fingerprint}");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Prints the ID alone on the first line, then the fingerprint; needs no passphrase. With
    /// <paramref name="invite"/> the third line is an invite link (with the running node's
    /// addresses), and with <paramref name="oneTime"/> a one-time one, which lets its holder in
    /// without a request (this opens the store, through the running node if there is one).
    /// </summary>
    public static int Show(string directory, bool qr, bool invite = false, bool oneTime = false)
    {
        var account = IdentityFile.ReadAccount(directory);
        string? link = null;
        if (invite || oneTime)
        {
            using var node = NodeAccess.Open(directory);
            link = node.Invite(oneTime);
        }

        Console.WriteLine(account.Text);
        Console.WriteLine($"fingerprint {account.Fingerprint}");
        if (link is not null)
        {
            Console.WriteLine(link);
            if (oneTime)
            {
                Console.Error.WriteLine($"This link lets one account in without a contact request, once, within {InviteTokens.Lifetime.TotalDays:0} days: give it to one person only.");
            }
        }

        if (qr)
        {
            using var generator = new QRCodeGenerator();
            using var data = generator.CreateQrCode(link ?? account.Text, QRCodeGenerator.ECCLevel.M);
            using var code = new AsciiQRCode(data);
            Console.WriteLine(code.GetGraphicSmall(drawQuietZones: true));
        }

        return ExitCodes.Ok;
    }
}
