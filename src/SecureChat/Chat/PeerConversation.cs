using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Chat;

/// <summary>How a conversation with one peer ended.</summary>
/// <param name="Clean">True when the peer closed the channel with a close frame.</param>
/// <param name="Reason">A sentence for the announcement.</param>
/// <param name="RefusedByPeer">True when the peer refused this node's key.</param>
internal sealed record ConversationEnd(bool Clean, string Reason, bool RefusedByPeer = false);

/// <summary>
/// One connected peer in a terminal chat: prints and saves what it says until the channel ends,
/// and saves what is sent to it.
/// </summary>
internal sealed class PeerConversation(SecureConnection connection, Contact contact, MessageLog log, Terminal terminal, TimeProvider time)
{
    public SecureConnection Connection => connection;

    /// <summary>The contact's local name and the fingerprint of the key it presented.</summary>
    public string Label { get; } = Terminal.Describe(contact.Name, connection.PeerAccount);

    /// <summary>
    /// Prints received lines until the peer closes, the connection fails, or
    /// <paramref name="abandon"/> fires (after a close the peer did not answer in time).
    /// </summary>
    public async Task<ConversationEnd> ReceiveAllAsync(CancellationToken abandon)
    {
        try
        {
            while (await connection.ReceiveAsync(abandon) is { } message)
            {
                if (NodeWire.TryParseFrame(message, out var frame) && frame.FrameCase == NodeFrame.FrameOneofCase.Hello)
                {
                    return new ConversationEnd(false, "is a node (`securechat run`), which speaks the node protocol, not the terminal line chat: send to it with `securechat send`, from a node of your own that has it as a contact");
                }

                var text = ChatLine.Decode(message);
                log.AddNew(contact, outgoing: false, text, MessageState.Received);
                terminal.Received(time.GetLocalNow(), contact.Name, text);
            }

            var close = connection.PeerClose;
            return close switch
            {
                null or { Reason: CloseReason.Normal } => new ConversationEnd(true, "closed the chat"),
                { Reason: CloseReason.Shutdown } => new ConversationEnd(true, $"stopped ({Terminal.Sanitize(close.Text)})"),
                { Reason: CloseReason.PeerKeyRejected } => new ConversationEnd(
                    false,
                    $"refused this node ({Terminal.Sanitize(close.Text)}). It pinned another key for you: if you reinstalled SecureChat or moved to a new "
                    + "device, give them your new ID (`securechat id`) by another channel so they can verify it.",
                    RefusedByPeer: true),
                _ => new ConversationEnd(false, $"closed the channel ({close.Reason}{(close.Text.Length > 0 ? ": " + Terminal.Sanitize(close.Text) : string.Empty)})"),
            };
        }
        catch (ChannelException ex)
        {
            return new ConversationEnd(false, ex.Message);
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            return new ConversationEnd(false, "did not answer the close in time; the connection was dropped");
        }
    }

    /// <summary>Saves and sends a line; false (with an announcement) when the connection is gone.</summary>
    public async Task<bool> TrySendAsync(string text, byte[] line)
    {
        var id = log.AddNew(contact, outgoing: true, text, MessageState.Queued);
        try
        {
            // A line in flight is finished even if the person presses Ctrl+C meanwhile: cutting a
            // write short would leave half a frame on the wire.
            await connection.SendAsync(line, CancellationToken.None);
            log.UpdateState(id, MessageState.Sent);
            return true;
        }
        catch (ChannelException ex)
        {
            terminal.Announce($"not delivered to {Label}: {ex.Message}");
            return false;
        }
    }
}
