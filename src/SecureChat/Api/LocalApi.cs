using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Api;

/// <summary>
/// The node's JSON API under <c>/api/</c> (README, "Local API"). Endpoints only translate HTTP to
/// <see cref="ChatNode"/> calls; failures become <c>{"error": sentence}</c> with a status code.
/// </summary>
internal static class LocalApi
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The most messages one page holds, through the API and through the CLI alike.</summary>
    public const int MaxPage = 1000;

    public static void Map(WebApplication app, ChatNode node)
    {
        var api = app.MapGroup("/api");
        ContactView View(Contact c) => Views.Contact(node, c);

        api.MapGet("/status", () => Results.Json(new
        {
            id = node.Identity.Account.Text,
            fingerprint = node.Identity.Account.Fingerprint,
            displayName = node.Identity.DisplayName,
            listen = node.ListenEndPoint is { } l ? new PeerEndpoint(l.Address.ToString(), l.Port).ToString() : null,
            contacts = node.Contacts.Count,
            online = node.Contacts.Where(node.IsOnline).Select(c => c.Account).ToList(),
            outbox = node.OutboxCount(),
            inbound = node.Inbound,
            dht = node.Dht,
            lan = node.LanDiscovery,
            portMapping = node.PortMapping is { } mapping ? new
            {
                sentence = mapping.Sentence,
                leases = new[] { mapping.Tcp, mapping.Udp }.OfType<Net.PortMapping.PortMappingLease>()
                    .Select(m => new { protocol = m.Protocol == Net.PortMapping.MappingProtocol.Tcp ? "tcp" : "udp", internalPort = m.InternalPort, external = m.External.ToString(), expires = m.Expires, method = m.Method }),
            } : null,
            refused = node.Refusals.Current(node.Options.Time.GetUtcNow()).Select(r => new { contactId = r.ContactAccount, reason = r.Reason, message = r.Message, until = r.Until }),

            // How contacts can reach this node, and the observations it was classified from (docs/discovery.md, "What the node shows").
            reachability = ReachabilityView.Of(node),
        }, Json));

        // oneTime=true issues a token each time: the link lets its holder in without a request, once, for 7 days.
        // With qr=true the answer also holds the link's QR code (a data: URL), so both show the same token.
        api.MapGet("/invite", (bool? withAddress, bool? oneTime, bool? qr) => Guarded(() =>
        {
            var link = node.CreateInvite(withAddress ?? false, oneTime ?? false);
            var text = link.ToString();
            return Results.Json(new
            {
                link = text,
                oneTime = link.Token is not null,
                expires = link.Token is null ? (DateTimeOffset?)null : node.Options.Time.GetUtcNow() + InviteTokens.Lifetime,
                qr = qr == true ? "data:image/png;base64," + Convert.ToBase64String(QrPng(text)) : null,
            }, Json);
        }));

        api.MapGet("/invite/qr", (bool? withAddress, bool? oneTime) =>
            Guarded(() => Results.Bytes(QrPng(node.CreateInvite(withAddress ?? false, oneTime ?? false).ToString()), "image/png")));

        api.MapPost("/qr/decode", QrDecoder.DecodeAsync);

        api.MapPost("/listen", (ListenRequest request, CancellationToken cancellationToken) => GuardedAsync(async () =>
        {
            var host = string.IsNullOrWhiteSpace(request.Host) ? "::" : request.Host.Trim();
            if (request.Port is not (>= 0 and <= 65535))
            {
                throw new ArgumentException($"{request.Port} is not a port: use 1 to 65535 (0 picks a free one).");
            }

            var at = await node.StartListeningAsync(host, request.Port, cancellationToken);
            return Results.Json(new { listen = new PeerEndpoint(at.Address.ToString(), at.Port).ToString() }, Json);
        }));

        api.MapDelete("/listen", async (CancellationToken cancellationToken) =>
        {
            await node.StopListeningAsync(cancellationToken);
            return Results.Json(new { listen = (string?)null }, Json);
        });

        api.MapGet("/contacts", () => Results.Json(node.Contacts.Select(View), Json));

        api.MapPost("/contacts", (AddContactRequest request) => GuardedAsync(async () =>
        {
            var add = Cli.NewContact.Parse(request.Id, request.Name, request.Endpoint);
            var contact = await node.AddOrAcceptAsync(add.Account, add.Name, add.Endpoint, add.InviteToken);
            return Results.Json(View(contact), Json, statusCode: StatusCodes.Status201Created);
        }));

        api.MapGet("/contacts/{contact}", (string contact) => Guarded(() => Results.Json(View(node.Resolve(contact)), Json)));

        api.MapGet("/contacts/{contact}/safety-number", (string contact) => Guarded(() =>
        {
            var c = node.Resolve(contact);
            return Results.Json(new { safetyNumber = SafetyNumber.Compute(node.Identity.Account, c.AccountId), verified = c.VerifiedAt is not null }, Json);
        }));

        api.MapDelete("/contacts/{contact}/key-warning", (string contact) => Guarded(() =>
        {
            var c = node.Resolve(contact);
            node.DismissKeyWarning(c);
            return Results.Json(View(c), Json);
        }));

        api.MapPatch("/contacts/{contact}", (string contact, RenameRequest request) => Guarded(() =>
        {
            if (!ContactBook.IsValidName(request.Name ?? string.Empty))
            {
                throw new ArgumentException(ContactBook.NameRule);
            }

            var renamed = node.Rename(node.Resolve(contact), request.Name!);
            return Results.Json(View(renamed), Json);
        }));

        api.MapDelete("/contacts/{contact}", (string contact) => GuardedAsync(async () =>
        {
            var removed = await node.RemoveContactAsync(node.Resolve(contact));
            return Results.Json(new { messages = removed }, Json);
        }));

        api.MapPost("/contacts/{contact}/verify", (string contact) => Guarded(() =>
        {
            var verified = node.MarkVerified(node.Resolve(contact));
            return Results.Json(View(verified), Json);
        }));

        api.MapGet("/contacts/{contact}/messages", (string contact, int? limit, string? before, string? after, string? around) => Guarded(() =>
        {
            var c = node.Resolve(contact);
            if (new[] { before, after, around }.Count(a => a is not null) > 1)
            {
                throw new ArgumentException("Give at most one of before=, after= and around=.");
            }

            var count = Limit(limit);
            IEnumerable<StoredMessage> page = (before, after, around) switch
            {
                (_, { } a, _) => node.HistoryAfter(c, count, a.ToLowerInvariant()),
                (_, _, { } m) => node.HistoryAround(c, count, m.ToLowerInvariant()),
                _ => node.History(c, count, before?.ToLowerInvariant()),
            };
            return Results.Json(page.Select(MessageView.From), Json);
        }));

        // Sends share their disk write with the requests that arrive meanwhile (ChatNode.SendAsync).
        api.MapPost("/contacts/{contact}/messages", (string contact, SendRequest request) => GuardedAsync(async () =>
        {
            var message = await node.SendAsync(node.Resolve(contact), request.Text ?? string.Empty);
            return Results.Json(MessageView.From(message), Json, statusCode: StatusCodes.Status202Accepted);
        }));

        api.MapPost("/contacts/{contact}/read", (string contact) => Guarded(() =>
            Results.Json(new { seen = node.MarkRead(node.Resolve(contact)).Count }, Json)));

        api.MapPost("/contacts/{contact}/typing", (string contact, TypingRequest request) => Guarded(() =>
        {
            node.SetTyping(node.Resolve(contact), request.Active);
            return Results.NoContent();
        }));

        api.MapGet("/messages/{id}", (string id) => Guarded(() =>
            node.FindMessage(id) is { } message
                ? Results.Json(MessageView.From(message), Json)
                : Results.Json(new { error = $"No message {id} is stored." }, Json, statusCode: StatusCodes.Status404NotFound)));

        api.MapGet("/search", (string? q, string? contact, int? limit) => Guarded(() =>
        {
            if (Storage.Search.SearchText.Terms(q ?? string.Empty).Count == 0)
            {
                throw new ArgumentException("The query has no words to look for: give at least one word or the beginning of one.");
            }

            var within = contact is null ? null : node.Resolve(contact);
            var terms = Storage.Search.SearchText.Terms(q!);
            var found = node.Search(q!, within, Limit(limit));
            return Results.Json(found.Select(m => new SearchHitView(MessageView.From(m), [.. Storage.Search.SearchText.Hits(m.Text, terms).Select(h => new[] { h.Start, h.Length })])), Json);
        }));

        api.MapPost("/connect", (ConnectRequest request, CancellationToken cancellationToken) => GuardedAsync(async () =>
        {
            var (endpoint, expected) = Cli.TargetAddress.Parse(request.Address ?? string.Empty);
            var contact = await node.ConnectAsync(endpoint, expected, cancellationToken);
            return Results.Json(View(contact), Json);
        }));

        MapRequests(api, node);

        api.MapGet("/events", EventStream.WriteAsync);
    }

    /// <summary>Contact requests (strangers who connected on their own) and blocked accounts.</summary>
    private static void MapRequests(RouteGroupBuilder api, ChatNode node)
    {
        RequestView RequestOf(Contact c) => Views.Request(node, c);

        api.MapGet("/requests", () => Results.Json(node.Requests.Select(RequestOf), Json));

        api.MapPost("/requests/{id}/accept", (string id, AcceptRequest? request) => GuardedAsync(async () =>
        {
            var accepted = await node.AcceptRequestAsync(node.ResolveRequest(id), string.IsNullOrWhiteSpace(request?.Name) ? null : request.Name);
            return Results.Json(Views.Contact(node, accepted), Json);
        }));

        api.MapPost("/requests/{id}/decline", (string id) => GuardedAsync(async () =>
        {
            var request = node.ResolveRequest(id);
            await node.DeclineRequestAsync(request);
            return Results.Json(new { declined = request.Account }, Json);
        }));

        api.MapPost("/requests/{id}/block", (string id) => GuardedAsync(async () =>
        {
            var blocked = await node.BlockAsync(node.ResolveRequest(id).AccountId);
            return Results.Json(new { blocked = blocked.Account }, Json);
        }));

        api.MapPost("/contacts/{contact}/block", (string contact) => GuardedAsync(async () =>
        {
            var blocked = await node.BlockAsync(node.Resolve(contact).AccountId);
            return Results.Json(new { blocked = blocked.Account }, Json);
        }));

        api.MapPost("/blocked", (BlockRequest request) => GuardedAsync(async () =>
        {
            var blocked = await node.BlockAsync(node.ResolveAnyAccount(request.Id ?? string.Empty));
            return Results.Json(new { blocked = blocked.Account }, Json);
        }));

        api.MapGet("/blocked", () => Results.Json(node.Blocked.Select(BlockedView.From), Json));

        api.MapDelete("/blocked/{id}", (string id) => Guarded(() =>
        {
            var blocked = node.ResolveBlocked(id);
            node.Unblock(blocked.AccountId);
            return Results.Json(new { unblocked = blocked.Account }, Json);
        }));
    }

    private static byte[] QrPng(string text)
    {
        using var generator = new QRCoder.QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCoder.QRCodeGenerator.ECCLevel.M);
        return new QRCoder.PngByteQRCode(data).GetGraphic(8);
    }

    private static int Limit(int? limit) => limit switch
    {
        null => 50,
        > 0 and <= MaxPage => limit.Value,
        _ => throw new ArgumentException($"limit is a number of messages from 1 to {MaxPage}."),
    };

    private static IResult Guarded(Func<IResult> endpoint)
    {
        try
        {
            return endpoint();
        }
        catch (Exception ex) when (Problem(ex) is { } problem)
        {
            return problem;
        }
    }

    private static async Task<IResult> GuardedAsync(Func<Task<IResult>> endpoint)
    {
        try
        {
            return await endpoint();
        }
        catch (Exception ex) when (Problem(ex) is { } problem)
        {
            return problem;
        }
    }

    /// <summary>The answer for a failure a caller can act on; null for a bug (the server's 500).</summary>
    private static IResult? Problem(Exception exception)
    {
        var (status, message) = exception switch
        {
            StoreException { Error: StoreError.NoSuchContact } e => (StatusCodes.Status404NotFound, e.Message),
            StoreException { Error: StoreError.Conflict } e => (StatusCodes.Status409Conflict, e.Message),
            StoreException { Error: StoreError.OutboxFull } e => (StatusCodes.Status429TooManyRequests, e.Message),
            StoreException { Error: StoreError.DiskFull } e => (StatusCodes.Status507InsufficientStorage, e.Message),
            ArgumentException e => (StatusCodes.Status400BadRequest, e.Message.Split(" (Parameter", 2)[0]),
            Cli.UsageException e => (StatusCodes.Status400BadRequest, e.Message),
            Protocol.Channel.ChannelException e => (StatusCodes.Status502BadGateway, e.Message),
            NetworkException e => (StatusCodes.Status502BadGateway, e.Message),
            _ => (0, string.Empty),
        };
        return status == 0 ? null : Results.Json(new { error = message }, Json, statusCode: status);
    }

    internal sealed record AddContactRequest(string Id, string? Name, string? Endpoint);

    internal sealed record RenameRequest(string? Name);

    internal sealed record AcceptRequest(string? Name);

    internal sealed record BlockRequest(string? Id);

    internal sealed record SendRequest(string? Text);

    internal sealed record TypingRequest(bool Active);

    internal sealed record ConnectRequest(string? Address);

    internal sealed record ListenRequest(string? Host, int Port);
}
