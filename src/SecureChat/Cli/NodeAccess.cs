using SecureChat.Api;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary>
/// What the CLI verbs need from a node: through the running node's local API when one runs for
/// the data directory, else straight from the store (messages sent then wait in the outbox for the
/// next <c>securechat run</c>).
/// </summary>
internal interface INodeAccess : IDisposable
{
    AccountId Self { get; }

    /// <summary>True when a running node answers; false when the store was opened directly.</summary>
    bool ThroughNode { get; }

    IReadOnlyList<ContactView> Contacts();

    /// <summary>Adds a contact (keeping the one-time token of the link it came in), or accepts its waiting request.</summary>
    ContactView Add(NewContact add);

    /// <summary>This node's invite link (with its addresses when a node runs), one-time when asked.</summary>
    string Invite(bool oneTime);

    ContactView Contact(string who);

    ContactView Rename(string who, string name);

    long Remove(string who);

    ContactView MarkVerified(string who);

    /// <summary>A page of a conversation, newest last; the conversation is marked read (read receipts go back).</summary>
    IReadOnlyList<MessageView> History(string who, int limit, string? before);

    IReadOnlyList<MessageView> Search(string query, string? who, int limit);

    MessageView Send(string who, string text);

    MessageView? Message(string id);

    IReadOnlyList<RequestView> Requests();

    ContactView AcceptRequest(string id, string? name);

    /// <summary>Declines a request; returns its account ID.</summary>
    string DeclineRequest(string id);

    /// <summary>Blocks a contact, a request or any account by ID; returns the account ID.</summary>
    string Block(string who);

    IReadOnlyList<BlockedView> Blocked();

    /// <summary>Lifts a block; returns the account ID.</summary>
    string Unblock(string id);
}

internal static class NodeAccess
{
    /// <summary>How long a verb waits for a node that holds the store to answer on its local API.</summary>
    private static readonly TimeSpan NodePatience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// One writer per data directory (<see cref="HomeLock"/>): the store is opened directly only
    /// while this verb holds its lock, so no node can be starting or running behind it; when a
    /// node holds it, the verb waits for that node's API and goes through it. A node that is
    /// starting is thus never written behind, and a node killed with SIGKILL holds nothing, so its
    /// left-over <c>api.json</c> is recognised as stale and removed.
    /// </summary>
    public static INodeAccess Open(string directory)
    {
        if (!Directory.Exists(directory))
        {
            // Nothing to share: opening says there is no identity here.
            return new StoreAccess(NodeHome.Open(directory));
        }

        var time = TimeProvider.System;
        var started = time.GetTimestamp();
        while (true)
        {
            if (HomeLock.TryTake(directory, HomeLock.StoreFile) is { } held)
            {
                ApiFile.Delete(directory);
                return new StoreAccess(NodeHome.Open(directory, held));
            }

            if (ApiClient.TryConnect(directory) is { } client)
            {
                return new ApiAccess(client, IdentityFile.ReadAccount(directory));
            }

            if (time.GetElapsedTime(started) >= NodePatience)
            {
                throw new UsageException($"Another securechat process has {directory} open and its local API did not answer within {NodePatience.TotalSeconds:0} s (a node still starting, or another securechat command waiting for a passphrase): try again when the node runs, or stop it.");
            }

            Task.Delay(HomeLock.PollInterval, time).GetAwaiter().GetResult();
        }
    }
}

/// <summary>The store opened directly: no node runs.</summary>
internal sealed class StoreAccess(NodeHome home) : INodeAccess
{
    private LocalStore Store => home.Store;

    public AccountId Self => home.Identity.Account;

    public bool ThroughNode => false;

    public IReadOnlyList<ContactView> Contacts() => [.. Store.Contacts.All.Select(View)];

    public ContactView Add(NewContact add) =>
        View(Store.Contacts.Find(add.Account) is { Standing: ContactStanding.Request } request
            ? Store.Contacts.Accept(request, add.Name)
            : Store.Contacts.Add(add.Account, add.Name, add.Endpoint, home.Time.GetUtcNow(), add.InviteToken));

    public string Invite(bool oneTime)
    {
        string? token = null;
        if (oneTime)
        {
            var bytes = Store.Invites.Issue();
            token = Net.InviteLink.EncodeToken(bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }

        var name = home.Identity.DisplayName;
        return new Net.InviteLink(home.Identity.Account, string.IsNullOrEmpty(name) ? null : name, [], token).ToString();
    }

    public ContactView Contact(string who) => View(Store.Contacts.Resolve(who));

    public ContactView Rename(string who, string name) => View(Store.Contacts.Rename(Store.Contacts.Resolve(who), name));

    public long Remove(string who) => Store.Contacts.Remove(Store.Contacts.Resolve(who));

    public ContactView MarkVerified(string who) => View(Store.Contacts.MarkVerified(Store.Contacts.Resolve(who), home.Time.GetUtcNow()));

    public IReadOnlyList<MessageView> History(string who, int limit, string? before)
    {
        var contact = Store.Contacts.Resolve(who);
        var page = Store.Messages.History(contact, limit, before);
        Store.Outbox.MarkSeen(contact);
        return [.. page.Select(MessageView.From)];
    }

    public IReadOnlyList<MessageView> Search(string query, string? who, int limit) =>
        [.. Store.Messages.Search(query, who is null ? null : Store.Contacts.Resolve(who), limit).Select(MessageView.From)];

    public MessageView Send(string who, string text)
    {
        if (!NodeWire.IsValidText(text))
        {
            throw new UsageException($"A message is 1 to {NodeWire.MaxTextBytes:N0} bytes of UTF-8 text.");
        }

        var contact = Store.Contacts.Resolve(who);
        // The same outbox a running node queues through: its bound, its clock, one transaction.
        return MessageView.From(Store.Outbox.Queue(contact, [text])[0]);
    }

    public MessageView? Message(string id) => Store.Messages.Find(id) is { } message ? MessageView.From(message) : null;

    public IReadOnlyList<RequestView> Requests() => [.. Store.Contacts.Requests.Select(r => RequestView.From(r, Store.Messages.History(r, RequestView.MaxShown, null), Store.Messages.Count(r), null))];

    public ContactView AcceptRequest(string id, string? name) => View(Store.Contacts.Accept(Store.Contacts.ResolveRequest(id), name));

    public string DeclineRequest(string id)
    {
        var request = Store.Contacts.ResolveRequest(id);
        Store.Contacts.Remove(request);
        return request.Account;
    }

    public string Block(string who) => Store.Contacts.Block(Store.Contacts.ResolveAnyAccount(who), home.Time.GetUtcNow()).Account;

    public IReadOnlyList<BlockedView> Blocked() => [.. Store.Contacts.Blocked.Select(BlockedView.From)];

    public string Unblock(string id)
    {
        var blocked = Store.Contacts.ResolveBlocked(id);
        Store.Contacts.Unblock(blocked.AccountId);
        return blocked.Account;
    }

    public void Dispose() => home.Dispose();

    private ContactView View(Contact contact) => ContactView.From(contact, new(Store.Messages.Count(contact), Store.Messages.UnseenCount(contact)), online: false);
}

/// <summary>The running node, through its local API.</summary>
internal sealed class ApiAccess(ApiClient client, AccountId self) : INodeAccess
{
    public AccountId Self => self;

    public bool ThroughNode => true;

    public IReadOnlyList<ContactView> Contacts() => client.Get<List<ContactView>>("api/contacts");

    public ContactView Add(NewContact add) =>
        client.Post<ContactView>("api/contacts", new LocalApi.AddContactRequest(
            add.InviteToken is null ? add.Account.Text : new Net.InviteLink(add.Account, null, [], add.InviteToken).ToString(), add.Name, add.Endpoint));

    public string Invite(bool oneTime) => client.Get<InviteBody>($"api/invite?withAddress=true&oneTime={(oneTime ? "true" : "false")}").Link;

    public ContactView Contact(string who) => client.Get<ContactView>($"api/contacts/{Segment(who)}");

    public ContactView Rename(string who, string name) => client.Patch<ContactView>($"api/contacts/{Segment(who)}", new LocalApi.RenameRequest(name));

    public long Remove(string who) => client.Delete<RemovedBody>($"api/contacts/{Segment(who)}").Messages;

    public ContactView MarkVerified(string who) => client.Post<ContactView>($"api/contacts/{Segment(who)}/verify", null);

    public IReadOnlyList<MessageView> History(string who, int limit, string? before)
    {
        var query = $"limit={limit}" + (before is null ? string.Empty : $"&before={Uri.EscapeDataString(before)}");
        var page = client.Get<List<MessageView>>($"api/contacts/{Segment(who)}/messages?{query}");
        client.Post<SeenBody>($"api/contacts/{Segment(who)}/read", null);
        return page;
    }

    public IReadOnlyList<MessageView> Search(string query, string? who, int limit) =>
        client.Get<List<MessageView>>($"api/search?q={Uri.EscapeDataString(query)}&limit={limit}" + (who is null ? string.Empty : $"&contact={Uri.EscapeDataString(who)}"));

    public MessageView Send(string who, string text) => client.Post<MessageView>($"api/contacts/{Segment(who)}/messages", new LocalApi.SendRequest(text));

    public MessageView? Message(string id)
    {
        try
        {
            return client.Get<MessageView>($"api/messages/{Segment(id)}");
        }
        catch (ApiException ex) when (ex.Status == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public IReadOnlyList<RequestView> Requests() => client.Get<List<RequestView>>("api/requests");

    public ContactView AcceptRequest(string id, string? name) => client.Post<ContactView>($"api/requests/{Segment(id)}/accept", new LocalApi.AcceptRequest(name));

    public string DeclineRequest(string id) => client.Post<DeclinedBody>($"api/requests/{Segment(id)}/decline", null).Declined;

    public string Block(string who) => client.Post<BlockedBody>("api/blocked", new LocalApi.BlockRequest(who)).Blocked;

    public IReadOnlyList<BlockedView> Blocked() => client.Get<List<BlockedView>>("api/blocked");

    public string Unblock(string id) => client.Delete<UnblockedBody>($"api/blocked/{Segment(id)}").Unblocked;

    public void Dispose() => client.Dispose();

    private sealed record DeclinedBody(string Declined);

    private sealed record BlockedBody(string Blocked);

    private sealed record UnblockedBody(string Unblocked);

    private static string Segment(string value) => Uri.EscapeDataString(value);

    private sealed record RemovedBody(long Messages);

    private sealed record InviteBody(string Link);

    private sealed record SeenBody(int Seen);
}
