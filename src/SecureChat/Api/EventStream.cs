using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using SecureChat.Node;

namespace SecureChat.Api;

/// <summary>
/// <c>GET /api/events</c>: the node's events as Server-Sent Events, one JSON object per event
/// (<c>event:</c> names its type), until the client goes away or the node stops. A comment line
/// every 15 seconds keeps proxies and idle timeouts from cutting the stream.
/// </summary>
internal static class EventStream
{
    public static async Task WriteAsync(HttpContext context, ChatNode node, IHostApplicationLifetime lifetime)
    {
        // The stream ends when the client leaves or the server starts stopping, which waits for it.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = ended.Token;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        var events = node.Events.Subscribe(cancellationToken);
        await context.Response.WriteAsync(": connected\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
        try
        {
            while (true)
            {
                using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                keepAlive.CancelAfter(TimeSpan.FromSeconds(15));
                bool more;
                try
                {
                    more = await events.WaitToReadAsync(keepAlive.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", cancellationToken);
                    await context.Response.Body.FlushAsync(cancellationToken);
                    continue;
                }

                if (!more)
                {
                    return;
                }

                while (events.TryRead(out var nodeEvent))
                {
                    var (name, data) = Describe(nodeEvent, node);
                    await context.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data, LocalApi.Json)}\n\n", cancellationToken);
                }

                await context.Response.Body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private static (string Name, object Data) Describe(NodeEvent nodeEvent, ChatNode node) => nodeEvent switch
    {
        MessageStored e => ("message", MessageView.From(e.Message)),
        MessageStateChanged e => ("state", new { contactId = e.ContactAccount, id = e.MessageId, state = MessageView.StateName(e.State) }),
        PresenceChanged e => ("presence", new { contactId = e.ContactAccount, online = e.Online, endpoint = e.Endpoint, connection = e.Online ? ConnectionOf(node, e.ContactAccount) : null }),
        ReachabilityChanged e => ("reachability", new { kind = ReachabilityView.KindName(e.Kind), sentence = e.Sentence }),
        TypingChanged e => ("typing", new { contactId = e.ContactAccount, active = e.Active }),
        ContactChanged e => ("contact", new { contactId = e.Contact.Account, name = e.Contact.Name, isNew = e.IsNew }),
        ContactRemoved e => ("removed", new { contactId = e.ContactAccount }),
        RequestChanged e => ("request", Views.Request(node, e.Request)),
        RequestRemoved e => ("requestRemoved", new { id = e.Account, outcome = e.Outcome }),
        PortMappingChanged e => ("portMapping", new { sentence = e.Status.Sentence, tcp = e.Status.Tcp?.External.ToString(), udp = e.Status.Udp?.External.ToString() }),
        ListeningChanged e => ("listen", new { listen = e.EndPoint is { } l ? new Net.PeerEndpoint(l.Address.ToString(), l.Port).ToString() : null }),
        DeliveryRefused e => ("refused", new { contactId = e.Refusal.ContactAccount, reason = e.Refusal.Reason, message = e.Refusal.Message, until = e.Refusal.Until }),
        ConnectionProblem e => ("problem", new { contactId = e.ContactAccount, endpoint = e.Endpoint, message = e.Message, keyChanged = e.KeyChanged }),
        _ => ("unknown", new { }),
    };

    /// <summary>How a contact that came online is connected, as the contact views show it.</summary>
    private static ConnectionView? ConnectionOf(ChatNode node, string account) =>
        node.Contacts.FirstOrDefault(c => c.Account == account) is { } contact ? ConnectionView.Of(node.ConnectionOf(contact)) : null;
}
