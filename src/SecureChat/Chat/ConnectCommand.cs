using Microsoft.Extensions.Logging;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Chat;

/// <summary>
/// <c>securechat connect [ID@]HOST:PORT</c>: dials a peer and chats with it on the terminal until
/// either side closes, or standard input ends (then pending lines are delivered and the channel
/// closes cleanly).
/// </summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(string directory, string target, ChannelOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var (endpoint, expected) = TargetAddress.Parse(target);
        var terminal = new Terminal(Console.Out);
        using var node = NodeHome.OpenForNode(directory, Console.Out);
        var known = expected is not null ? node.Contacts.Find(expected) : node.Contacts.FindByEndpoint(endpoint.ToString());
        var knownKey = known?.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
        await using var connection = await ChannelDialer.ConnectAsync(
            endpoint, node.Identity, knownKey, PeerTrust.ForDial(node.Contacts, endpoint, expected), options, cancellationToken);
        logger.LogInformation("Connected to {Endpoint} with {Pattern}", endpoint, connection.Pattern);

        var (contact, isNew) = Pin(node, connection, endpoint.ToString(), options.Time);
        var conversation = new PeerConversation(connection, contact, node.Store.Messages, terminal, options.Time);
        Greet(node, conversation, isNew, terminal, $"at {endpoint}");
        using var abandon = new CancellationTokenSource();
        var receiving = conversation.ReceiveAllAsync(abandon.Token);
        var sending = SendTypedLinesAsync(Terminal.ReadLines(Console.In), [conversation], terminal, cancellationToken);

        if (await Task.WhenAny(sending, receiving) == sending)
        {
            await sending;
            await connection.CloseAsync(cancellationToken.IsCancellationRequested ? CloseReason.Shutdown : CloseReason.Normal, "goodbye", CancellationToken.None);

            // CloseAsync waited for the peer's close as long as it should: stop waiting for it.
            await abandon.CancelAsync();
            var ended = await receiving;
            if (!ended.RefusedByPeer)
            {
                terminal.Announce($"disconnected from {conversation.Label}");
                return ended.Clean || connection.PeerClose is not null ? ExitCodes.Ok : ExitCodes.Failure;
            }
        }

        var end = await receiving;
        terminal.Announce($"disconnected: {conversation.Label} {end.Reason}");
        if (!end.Clean)
        {
            await Console.Error.WriteLineAsync($"securechat: the chat with {conversation.Label} ended: {end.Reason}");
        }

        return end.Clean ? ExitCodes.Ok : end.RefusedByPeer ? ExitCodes.PeerKeyRefused : ExitCodes.Failure;
    }

    /// <summary>
    /// Pins the peer (refreshing a known one); says whether it is new. A peer never met is pinned
    /// as <paramref name="standingIfNew"/>: a contact for a dial, a request for a stranger who connected.
    /// </summary>
    public static (Storage.Contact Contact, bool IsNew) Pin(
        NodeHome node, SecureConnection connection, string? endpoint, TimeProvider time, Storage.ContactStanding standingIfNew = Storage.ContactStanding.Contact)
    {
        var isNew = node.Contacts.Find(connection.PeerAccount) is null;
        return (node.Contacts.Pin(connection.Peer.Certificate, connection.Peer.DisplayName, endpoint, time.GetUtcNow(), standingIfNew), isNew);
    }

    /// <summary>Announces a connected peer: new contacts get their safety number to compare.</summary>
    public static void Greet(NodeHome node, PeerConversation conversation, bool isNew, Terminal terminal, string where)
    {
        terminal.Announce($"connected: {conversation.Label} {where}");
        if (isNew)
        {
            terminal.Announce($"new contact, key pinned; safety number {SafetyNumber.Compute(node.Identity.Account, conversation.Connection.PeerAccount)} (compare it with theirs by another channel)");
        }
    }

    /// <summary>
    /// Sends each typed line to every conversation; returns at end of input or on cancellation. A
    /// line that <paramref name="command"/> takes (it returns true) is a command, not a message.
    /// </summary>
    public static async Task SendTypedLinesAsync(
        System.Threading.Channels.ChannelReader<string> lines,
        IEnumerable<PeerConversation> conversations,
        Terminal terminal,
        CancellationToken cancellationToken,
        Func<string, Task<bool>>? command = null)
    {
        try
        {
            await foreach (var line in lines.ReadAllAsync(cancellationToken))
            {
                if (line.Length == 0 || (command is not null && await command(line)))
                {
                    continue;
                }

                if (ChatLine.TryEncode(line) is not { } bytes)
                {
                    terminal.Announce($"that line is longer than {ChatLine.MaxBytes} bytes and was not sent; split it");
                    continue;
                }

                var recipients = conversations.ToList();
                if (recipients.Count == 0)
                {
                    terminal.Announce("nobody is connected yet; the line was not sent");
                    continue;
                }

                foreach (var conversation in recipients)
                {
                    await conversation.TrySendAsync(line, bytes);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C or SIGTERM: stop reading and close cleanly like at end of input.
        }
    }
}
