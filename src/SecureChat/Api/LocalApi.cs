using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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

    private const int MaxPage = 1000;

    public static void Map(WebApplication app, ChatNode node)
    {
        var store = node.Store;
        var api = app.MapGroup("/api");

        api.MapGet("/status", () => Results.Json(new
        {
            id = node.Identity.Account.Text,
            fingerprint = node.Identity.Account.Fingerprint,
            displayName = node.Identity.DisplayName,
            listen = node.ListenEndPoint is { } l ? new PeerEndpoint(l.Address.ToString(), l.Port).ToString() : null,
            contacts = store.Contacts.All.Count,
            online = store.Contacts.All.Where(node.IsOnline).Select(c => c.Account).ToList(),
            outbox = store.Messages.OutboxCount(),
            dht = node.Dht,
            lan = node.LanDiscovery,
        }, Json));

        api.MapGet("/contacts", () => Results.Json(store.Contacts.All.Select(c => ContactView.From(c, store.Messages, node.IsOnline(c))), Json));

        api.MapPost("/contacts", (AddContactRequest request) => Guarded(() =>
        {
            if (!AccountId.TryParse(request.Id, out var account))
            {
                throw new ArgumentException($"'{request.Id}' is not a SecureChat ID: an ID is {AccountId.TextLength} characters.");
            }

            if (request.Name is not null && !ContactBook.IsValidName(request.Name))
            {
                throw new ArgumentException(ContactBook.NameRule);
            }

            string? endpoint = null;
            if (request.Endpoint is not null)
            {
                endpoint = PeerEndpoint.TryParse(request.Endpoint, out var parsed, out var error) ? parsed.ToString() : throw new ArgumentException(error);
            }

            var contact = node.AddContact(account, request.Name, endpoint);
            return Results.Json(ContactView.From(contact, store.Messages, node.IsOnline(contact)), Json, statusCode: StatusCodes.Status201Created);
        }));

        api.MapGet("/contacts/{contact}", (string contact) => Guarded(() =>
        {
            var c = store.Contacts.Resolve(contact);
            return Results.Json(ContactView.From(c, store.Messages, node.IsOnline(c)), Json);
        }));

        api.MapPatch("/contacts/{contact}", (string contact, RenameRequest request) => Guarded(() =>
        {
            if (!ContactBook.IsValidName(request.Name ?? string.Empty))
            {
                throw new ArgumentException(ContactBook.NameRule);
            }

            var renamed = store.Contacts.Rename(store.Contacts.Resolve(contact), request.Name!);
            node.Events.Publish(new ContactChanged(renamed, false));
            return Results.Json(ContactView.From(renamed, store.Messages, node.IsOnline(renamed)), Json);
        }));

        api.MapDelete("/contacts/{contact}", (string contact) => GuardedAsync(async () =>
        {
            var removed = await node.RemoveContactAsync(store.Contacts.Resolve(contact));
            return Results.Json(new { messages = removed }, Json);
        }));

        api.MapPost("/contacts/{contact}/verify", (string contact) => Guarded(() =>
        {
            var verified = store.Contacts.MarkVerified(store.Contacts.Resolve(contact), DateTimeOffset.UtcNow);
            node.Events.Publish(new ContactChanged(verified, false));
            return Results.Json(ContactView.From(verified, store.Messages, node.IsOnline(verified)), Json);
        }));

        api.MapGet("/contacts/{contact}/messages", (string contact, int? limit, string? before) => Guarded(() =>
        {
            var page = store.Messages.History(store.Contacts.Resolve(contact), Limit(limit), before?.ToLowerInvariant());
            return Results.Json(page.Select(MessageView.From), Json);
        }));

        api.MapPost("/contacts/{contact}/messages", (string contact, SendRequest request) => Guarded(() =>
        {
            var message = node.Send(store.Contacts.Resolve(contact), request.Text ?? string.Empty);
            return Results.Json(MessageView.From(message), Json, statusCode: StatusCodes.Status202Accepted);
        }));

        api.MapPost("/contacts/{contact}/read", (string contact) => Guarded(() =>
            Results.Json(new { seen = node.MarkRead(store.Contacts.Resolve(contact)).Count }, Json)));

        api.MapPost("/contacts/{contact}/typing", (string contact, TypingRequest request) => Guarded(() =>
        {
            node.SetTyping(store.Contacts.Resolve(contact), request.Active);
            return Results.NoContent();
        }));

        api.MapGet("/messages/{id}", (string id) => Guarded(() =>
            store.Messages.Find(id) is { } message
                ? Results.Json(MessageView.From(message), Json)
                : Results.Json(new { error = $"No message {id} is stored." }, Json, statusCode: StatusCodes.Status404NotFound)));

        api.MapGet("/search", (string? q, string? contact, int? limit) => Guarded(() =>
        {
            if (Storage.Search.SearchText.Terms(q ?? string.Empty).Count == 0)
            {
                throw new ArgumentException("The query has no words to look for: give at least one word or the beginning of one.");
            }

            var within = contact is null ? null : store.Contacts.Resolve(contact);
            return Results.Json(store.Messages.Search(q!, within, Limit(limit)).Select(MessageView.From), Json);
        }));

        api.MapPost("/connect", (ConnectRequest request, CancellationToken cancellationToken) => GuardedAsync(async () =>
        {
            var (endpoint, expected) = Cli.TargetAddress.Parse(request.Address ?? string.Empty);
            var contact = await node.ConnectAsync(endpoint, expected, cancellationToken);
            return Results.Json(ContactView.From(contact, store.Messages, node.IsOnline(contact)), Json);
        }));

        api.MapGet("/events", EventStream.WriteAsync);
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

    internal sealed record SendRequest(string? Text);

    internal sealed record TypingRequest(bool Active);

    internal sealed record ConnectRequest(string? Address);
}
