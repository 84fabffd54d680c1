using SecureChat.Net;
using SecureChat.Protocol.Identity;

namespace SecureChat.Cli;

/// <summary>The address the person types to connect: <c>HOST:PORT</c>, or <c>ID@HOST:PORT</c> to insist on an ID.</summary>
internal static class TargetAddress
{
    /// <summary>Parses <c>HOST:PORT</c> or <c>ID@HOST:PORT</c>.</summary>
    public static (PeerEndpoint Endpoint, AccountId? Expected) Parse(string target)
    {
        AccountId? expected = null;
        var address = target;
        var at = target.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!AccountId.TryParse(target[..at], out expected))
            {
                throw new UsageException($"'{target[..at]}' is not a SecureChat ID: an ID is {AccountId.TextLength} characters, as `securechat id` prints it.");
            }

            address = target[(at + 1)..];
        }

        return PeerEndpoint.TryParse(address, out var endpoint, out var error)
            ? (endpoint, expected)
            : throw new UsageException(error);
    }
}
