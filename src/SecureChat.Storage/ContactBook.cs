using System.Text.Json;
using Microsoft.Data.Sqlite;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage;

/// <summary>
/// A contact: an account this node knows, by introduction (<c>contacts add</c>) or by meeting it.
/// Its keys are pinned on first contact (trust on first use).
/// </summary>
public sealed record Contact
{
    /// <summary>The database row; not part of the sealed record.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long Id { get; init; }

    public required string Account { get; init; }

    /// <summary>The pinned device certificate (base64); null until the contact has been met.</summary>
    public string? Certificate { get; init; }

    /// <summary>The name the contact gives itself.</summary>
    public string DisplayName { get; init; } = string.Empty;

    /// <summary>
    /// The name shown for the contact. When <see cref="Named"/> it is the person's own choice,
    /// unique among named contacts; otherwise it is only what the peer calls itself (or the ID's
    /// first characters) and never used to find the contact.
    /// </summary>
    public required string Name { get; init; }

    /// <summary>
    /// True when this node's person chose <see cref="Name"/> (added the contact with a name,
    /// renamed it, or accepted a request with one). Records written before names were told apart
    /// read as named.
    /// </summary>
    public bool Named { get; init; } = true;

    /// <summary>Whether this account is a contact, a stranger asking to be one, or refused.</summary>
    public ContactStanding Standing { get; init; } = ContactStanding.Contact;

    public string Notes { get; init; } = string.Empty;

    public required DateTimeOffset FirstSeen { get; init; }

    public required DateTimeOffset LastSeen { get; init; }

    public DateTimeOffset? VerifiedAt { get; init; }

    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>
    /// The one-time token of the invite link this contact was added by (as the link writes it),
    /// presented in the hello until one hello exchange with the contact has completed; then null.
    /// </summary>
    public string? InviteToken { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public AccountId AccountId => AccountId.TryParse(Account, out var id) ? id : throw new StoreException(StoreError.Corrupt, "A contact's account ID is damaged.");

    /// <summary>The pinned certificate, or null when the contact was added by ID and not met yet.</summary>
    public DeviceCertificate? DecodeCertificate() =>
        Certificate is null
            ? null
            : DeviceCertificate.TryDecode(Convert.FromBase64String(Certificate))
              ?? throw new StoreException(StoreError.Tampered, "A pinned certificate no longer verifies: the database was modified outside SecureChat.");
}

/// <summary>Where an account stands with this node's person.</summary>
public enum ContactStanding
{
    /// <summary>A contact: added by the person, dialed by them, or a request they accepted.</summary>
    Contact,

    /// <summary>A stranger who connected on their own: held apart until the person accepts or declines.</summary>
    Request,

    /// <summary>Refused at the handshake; nothing it sends is stored.</summary>
    Blocked,
}

/// <summary>What a presented certificate means against the pins.</summary>
public enum PinVerdict
{
    /// <summary>Never seen: pin it.</summary>
    New,

    /// <summary>Matches the pin (or the account is known and no device was pinned yet).</summary>
    Known,

    /// <summary>The dialed address belongs to a pinned peer, but another account answered.</summary>
    AccountChanged,

    /// <summary>The account is pinned, but it presents a device key other than the pinned one.</summary>
    DeviceKeyChanged,

    /// <summary>The person dialing named the ID to expect, and another one answered.</summary>
    NotTheExpectedAccount,

    /// <summary>The person blocked this account: refused before anything is stored.</summary>
    Blocked,
}

/// <summary>The verdict, with the contact it was checked against.</summary>
public sealed record PinCheck(PinVerdict Verdict, Contact? Pinned);

/// <summary>
/// The contacts table. Each row is one sealed record (names, notes, keys, addresses), bound by its
/// associated data to the row's lookup, a keyed digest of the account key: a thief learns how many
/// contacts there are, not who they are. Records are few, so all are kept decrypted in memory.
/// </summary>
public sealed class ContactBook
{
    public const int MaxNameBytes = 64;
    private const string LookupPurpose = "contact";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly LocalStore _store;
    private readonly AccountId _self;
    private readonly Dictionary<string, Contact> _contacts = new(StringComparer.Ordinal);
    private readonly Dictionary<long, byte[]> _lookups = [];

    internal ContactBook(LocalStore store, AccountId self)
    {
        _store = store;
        _self = self;
    }

    /// <summary>The contacts (not the requests, not the blocked), oldest first.</summary>
    public IReadOnlyList<Contact> All => InStanding(ContactStanding.Contact);

    /// <summary>Strangers who connected and wait for the person to accept or decline them, oldest first.</summary>
    public IReadOnlyList<Contact> Requests => InStanding(ContactStanding.Request);

    /// <summary>The accounts refused at the handshake.</summary>
    public IReadOnlyList<Contact> Blocked => InStanding(ContactStanding.Blocked);

    /// <summary>Every row: contacts, requests and blocked accounts.</summary>
    internal IReadOnlyList<Contact> Everyone => _store.Run(_ => _contacts.Values.OrderBy(c => c.FirstSeen).ThenBy(c => c.Id).ToList());

    private List<Contact> InStanding(ContactStanding standing) =>
        _store.Run(_ => _contacts.Values.Where(c => c.Standing == standing).OrderBy(c => c.FirstSeen).ThenBy(c => c.Id).ToList());

    public Contact? Find(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return _store.Run(_ => _contacts.GetValueOrDefault(account.Text));
    }

    /// <summary>The contact last reached at <paramref name="endpoint"/>, if any.</summary>
    public Contact? FindByEndpoint(string endpoint) =>
        _store.Run(_ => _contacts.Values
            .Where(c => c.Standing == ContactStanding.Contact && c.Endpoints.Contains(endpoint, StringComparer.OrdinalIgnoreCase))
            .MaxBy(c => c.LastSeen));

    /// <summary>
    /// The contact a person means by <paramref name="nameOrId"/>: its full ID, the name the person
    /// gave it (case-insensitive), or a unique beginning of its ID (at least 4 characters). An ID
    /// always wins over a name, and a name that is also the beginning of another contact's ID is
    /// refused as ambiguous: a name a peer chose for itself is never one to find it by. Requests
    /// and blocked accounts are not contacts and are not found.
    /// </summary>
    public Contact Resolve(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var text = nameOrId.Trim();
        return _store.Run(_ =>
        {
            var contacts = _contacts.Values.Where(c => c.Standing == ContactStanding.Contact).ToList();
            if (AccountId.TryParse(text.ToLowerInvariant(), out var account))
            {
                return contacts.Find(c => c.Account == account.Text)
                    ?? throw new StoreException(StoreError.NoSuchContact, $"{account} is not a contact: `securechat contacts add {account}` adds it.");
            }

            var byName = contacts.Where(c => c.Named && string.Equals(c.Name, text, StringComparison.OrdinalIgnoreCase)).ToList();
            var byId = text.Length >= MinIdPrefix
                ? contacts.Where(c => c.Account.StartsWith(text.ToLowerInvariant(), StringComparison.Ordinal)).ToList()
                : [];
            if (byName.Count == 1 && byId.All(c => c.Account == byName[0].Account))
            {
                return byName[0];
            }

            if (byName.Count == 1)
            {
                throw new StoreException(StoreError.NoSuchContact, $"'{text}' is the name of '{byName[0].Account}' and also the beginning of another contact's ID: use the full ID.");
            }

            return byId.Count switch
            {
                1 => byId[0],
                0 when contacts.Any(c => !c.Named && string.Equals(c.Name, text, StringComparison.OrdinalIgnoreCase)) => throw new StoreException(
                    StoreError.NoSuchContact,
                    $"'{text}' is what a contact calls themself, not a name you gave: use their ID, or name them with `securechat contacts rename ID NAME`."),
                0 => throw new StoreException(StoreError.NoSuchContact, $"No contact is called '{text}': `securechat contacts list` shows their names."),
                _ => throw new StoreException(StoreError.NoSuchContact, $"'{text}' matches {byId.Count} contacts: type more of the ID, or use the name."),
            };
        });
    }

    /// <summary>The fewest characters of an ID that find a contact by its beginning.</summary>
    public const int MinIdPrefix = 4;

    /// <summary>
    /// Checks a presented certificate. <paramref name="dialedEndpoint"/> is the address this side
    /// dialed (null for inbound); <paramref name="expected"/> the ID the person said to expect.
    /// </summary>
    public PinCheck Check(DeviceCertificate presented, string? dialedEndpoint, AccountId? expected)
    {
        ArgumentNullException.ThrowIfNull(presented);
        var pinned = Find(presented.Account);
        if (expected is not null && !expected.Equals(presented.Account))
        {
            return new PinCheck(PinVerdict.NotTheExpectedAccount, Find(expected));
        }

        if (expected is null && dialedEndpoint is not null && FindByEndpoint(dialedEndpoint) is { } atEndpoint && atEndpoint.Account != presented.Account.Text)
        {
            return new PinCheck(PinVerdict.AccountChanged, atEndpoint);
        }

        if (pinned is null)
        {
            return new PinCheck(PinVerdict.New, null);
        }

        if (pinned.Standing == ContactStanding.Blocked)
        {
            return new PinCheck(PinVerdict.Blocked, pinned);
        }

        // With an explicit expected ID the person has verified the account out of band, and the
        // account key itself signed this device certificate: a new device key is then accepted.
        // A contact added by ID and never met has no device pinned yet: the first one is pinned.
        if (expected is null && pinned.DecodeCertificate() is { } pinnedCertificate
            && !pinnedCertificate.DeviceAgreementKey.SequenceEqual(presented.DeviceAgreementKey))
        {
            return new PinCheck(PinVerdict.DeviceKeyChanged, pinned);
        }

        return new PinCheck(PinVerdict.Known, pinned);
    }

    /// <summary>
    /// Pins (or refreshes) a peer met on a connection and records where it was reached. A peer
    /// never met before is pinned as <paramref name="standingIfNew"/>: a contact when this node's
    /// person dialed it, a request when it connected on its own. Its display name is kept as what
    /// it calls itself, never as the name the person knows it by. <paramref name="endpoint"/> must
    /// be an address this node dialed and found this very key at (null for an inbound connection):
    /// it then moves to this contact from any other (the address now leads here). An address a
    /// peer only claims (a hello's port, a beacon) is never passed here before such a dial, so no
    /// claim can take a contact's address away or make <see cref="Check"/> report a false change.
    /// </summary>
    public Contact Pin(DeviceCertificate certificate, string displayName, string? endpoint, DateTimeOffset now, ContactStanding standingIfNew = ContactStanding.Contact)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (standingIfNew == ContactStanding.Blocked)
        {
            throw new ArgumentOutOfRangeException(nameof(standingIfNew), standingIfNew, "A peer met on a connection is a contact or a request.");
        }

        return _store.Run(connection =>
        {
            var key = certificate.Account.Text;
            var existing = _contacts.GetValueOrDefault(key);
            if (existing?.Standing == ContactStanding.Blocked)
            {
                throw new StoreException(StoreError.Conflict, $"{key} is blocked: unblock it first.");
            }

            if (endpoint is not null)
            {
                // An address belongs to one contact at a time: the newest one a dial reached there.
                foreach (var other in _contacts.Values.Where(c => c.Account != key && c.Endpoints.Contains(endpoint, StringComparer.OrdinalIgnoreCase)).ToList())
                {
                    Save(connection, other with { Endpoints = [.. other.Endpoints.Where(e => !string.Equals(e, endpoint, StringComparison.OrdinalIgnoreCase))] });
                }
            }

            var contact = (existing ?? NewContact(certificate.Account, PeerName(displayName, certificate.Account.Text), now) with { Named = false, Standing = standingIfNew }) with
            {
                Certificate = Convert.ToBase64String(certificate.Encoded),
                DisplayName = displayName,
                LastSeen = now,
                Endpoints = WithEndpoint(existing?.Endpoints ?? [], endpoint),
            };
            return Save(connection, contact);
        });
    }

    /// <summary>Makes a request a contact, named <paramref name="name"/> if given (else it stays unnamed).</summary>
    public Contact Accept(Contact request, string? name)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _store.Run(connection =>
        {
            var current = Current(request);
            if (current.Standing != ContactStanding.Request)
            {
                throw new StoreException(StoreError.Conflict, current.Standing == ContactStanding.Contact
                    ? $"{current.Account} is already a contact."
                    : $"{current.Account} is blocked: unblock it first.");
            }

            if (name is not null)
            {
                CheckNewName(name, current.Account);
            }

            return Save(connection, current with { Standing = ContactStanding.Contact, Name = name ?? current.Name, Named = name is not null });
        });
    }

    /// <summary>
    /// Refuses an account from now on: its conversation and anything held from it are deleted, and
    /// its handshakes are refused (<see cref="PinVerdict.Blocked"/>). Works for contacts, requests
    /// and accounts never met.
    /// </summary>
    public Contact Block(AccountId account, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.Equals(_self))
        {
            throw new StoreException(StoreError.Conflict, "That is this node's own ID.");
        }

        return _store.Run(connection =>
        {
            var existing = _contacts.GetValueOrDefault(account.Text);
            if (existing is not null)
            {
                DeleteMessages(connection, existing.Id);
                _store.Messages.ForgetContact(existing.Id, existing.Account);
            }

            var blocked = new Contact
            {
                Account = account.Text,
                Name = account.Text[..8],
                Named = false,
                Standing = ContactStanding.Blocked,
                DisplayName = existing?.DisplayName ?? string.Empty,
                FirstSeen = now,
                LastSeen = now,
            };
            return Save(connection, blocked);
        });
    }

    /// <summary>Lifts a block: the account is forgotten, and if it connects again it is a new request.</summary>
    public void Unblock(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        var blocked = Find(account) is { Standing: ContactStanding.Blocked } row
            ? row
            : throw new StoreException(StoreError.NoSuchContact, $"{account} is not blocked.");
        Remove(blocked);
    }

    /// <summary>The request from <paramref name="idOrPrefix"/> (a full ID, or a unique beginning of one).</summary>
    public Contact ResolveRequest(string idOrPrefix) => ResolveIn(idOrPrefix, ContactStanding.Request, "No contact request comes from");

    /// <summary>The blocked account <paramref name="idOrPrefix"/> (a full ID, or a unique beginning of one).</summary>
    public Contact ResolveBlocked(string idOrPrefix) => ResolveIn(idOrPrefix, ContactStanding.Blocked, "No blocked account is");

    /// <summary>
    /// The account a person means to block: a full ID (any account, known or not), else a contact
    /// by name or ID, else a contact request by the beginning of its ID.
    /// </summary>
    public AccountId ResolveAnyAccount(string who)
    {
        ArgumentNullException.ThrowIfNull(who);
        var trimmed = who.Trim().ToLowerInvariant();
        if (AccountId.TryParse(trimmed, out var account))
        {
            return account;
        }

        try
        {
            return Resolve(who).AccountId;
        }
        catch (StoreException) when (Requests.Any(r => r.Account.StartsWith(trimmed, StringComparison.Ordinal)))
        {
            return ResolveRequest(who).AccountId;
        }
    }

    private Contact ResolveIn(string idOrPrefix, ContactStanding standing, string none)
    {
        ArgumentNullException.ThrowIfNull(idOrPrefix);
        var text = idOrPrefix.Trim().ToLowerInvariant();
        return _store.Run(_ =>
        {
            var found = text.Length >= MinIdPrefix
                ? _contacts.Values.Where(c => c.Standing == standing && c.Account.StartsWith(text, StringComparison.Ordinal)).ToList()
                : [];
            return found.Count switch
            {
                1 => found[0],
                0 => throw new StoreException(StoreError.NoSuchContact, $"{none} '{idOrPrefix.Trim()}': give its ID (at least {MinIdPrefix} characters of it)."),
                _ => throw new StoreException(StoreError.NoSuchContact, $"'{idOrPrefix.Trim()}' matches {found.Count} accounts: type more of the ID."),
            };
        });
    }

    /// <summary>
    /// Adds a contact by ID, before meeting it. Its device is pinned when it is first met.
    /// <paramref name="inviteToken"/> is the one-time token of the link it was added by, if any.
    /// </summary>
    public Contact Add(AccountId account, string? name, string? endpoint, DateTimeOffset now, string? inviteToken = null)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.Equals(_self))
        {
            throw new StoreException(StoreError.Conflict, "That is this node's own ID; a contact is someone else.");
        }

        return _store.Run(connection =>
        {
            if (_contacts.TryGetValue(account.Text, out var existing))
            {
                throw existing.Standing switch
                {
                    ContactStanding.Blocked => new StoreException(StoreError.Conflict, $"{account} is blocked: `securechat unblock {account}` lifts it."),
                    ContactStanding.Request => new StoreException(StoreError.Conflict, $"{account} has asked to be a contact: `securechat requests accept {account}` accepts it."),
                    _ => new StoreException(StoreError.Conflict, $"{account} is already a contact, named '{existing.Name}'."),
                };
            }

            if (name is not null)
            {
                CheckNewName(name, account.Text);
            }

            // A name the person chose is theirs as typed (CheckNewName saw no named contact with it).
            var contact = NewContact(account, account.Text[..8], now) with { Name = name ?? UniqueName(account.Text[..8], account.Text), Named = name is not null, Endpoints = WithEndpoint([], endpoint), InviteToken = inviteToken };
            return Save(connection, contact);
        });
    }

    public Contact Rename(Contact contact, string name)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _store.Run(connection =>
        {
            CheckNewName(name, contact.Account);
            return Save(connection, Current(contact) with { Name = name, Named = true });
        });
    }

    /// <summary>Forgets the invite token kept for a contact (its node has had it); the contact as it is now (as given if it was removed meanwhile).</summary>
    public Contact ClearInviteToken(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _store.Run(connection => _contacts.GetValueOrDefault(contact.Account) switch
        {
            { InviteToken: not null } current => Save(connection, current with { InviteToken = null }),
            { } current => current,
            null => contact,
        });
    }

    public Contact MarkVerified(Contact contact, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _store.Run(connection => Save(connection, Current(contact) with { VerifiedAt = now }));
    }

    /// <summary>Removes a contact and its conversation; returns how many messages went with it.</summary>
    public long Remove(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var count = connection.CreateCommand();
            count.Transaction = transaction;
            count.CommandText = "SELECT count(*) FROM messages WHERE contact_id = $id";
            count.Parameters.AddWithValue("$id", contact.Id);
            var messages = (long)count.ExecuteScalar()!;
            using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM messages WHERE contact_id = $id; DELETE FROM contacts WHERE id = $id;";
            delete.Parameters.AddWithValue("$id", contact.Id);
            delete.ExecuteNonQuery();
            transaction.Commit();
            _contacts.Remove(contact.Account);
            _lookups.Remove(contact.Id);
            _store.Messages.ForgetContact(contact.Id, contact.Account);
            return messages;
        });
    }

    public const string NameRule = "A contact name is 1 to 64 bytes of UTF-8, with no control or invisible characters and no spaces at either end.";

    public static bool IsValidName(string name) =>
        !string.IsNullOrWhiteSpace(name) && name.Trim() == name && System.Text.Encoding.UTF8.GetByteCount(name) <= MaxNameBytes && !name.Any(DisplayText.IsDeceptive);

    /// <summary>
    /// True when <paramref name="name"/> could be taken for an account ID: a whole valid ID, or the
    /// beginning (<see cref="MinIdPrefix"/> characters or more) of the ID of an account this node
    /// knows other than <paramref name="except"/>. Such a name is refused, so that typing an ID
    /// always means that ID.
    /// </summary>
    public bool LooksLikeAnId(string name, string? except) =>
        AccountId.TryParse(name.Trim().ToLowerInvariant(), out _)
        || (name.Length >= MinIdPrefix && _store.Run(_ => _contacts.Values.Any(c => c.Account != except && c.Account.StartsWith(name.ToLowerInvariant(), StringComparison.Ordinal))));

    /// <summary>Refuses a name the person chose when it breaks the rule, looks like an ID, or another named contact has it.</summary>
    private void CheckNewName(string name, string? account)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException(NameRule, nameof(name));
        }

        if (LooksLikeAnId(name, account))
        {
            throw new ArgumentException($"'{name}' looks like an account ID (or the beginning of one): choose a name that does not, so that an ID always means that account.", nameof(name));
        }

        if (NameTaken(name, account))
        {
            throw new StoreException(StoreError.Conflict, $"Another contact is already called '{name}': choose another name.");
        }
    }

    /// <summary>The name shown for a peer that has not been named: what it calls itself, unless that could pass for an ID or is unusable.</summary>
    private string PeerName(string displayName, string account) =>
        IsValidName(displayName) && !LooksLikeAnId(displayName, account) ? displayName : account[..8];

    private static void DeleteMessages(SqliteConnection connection, long contactId)
    {
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM messages WHERE contact_id = $id; DELETE FROM sessions WHERE contact_id = $id; DELETE FROM receipts WHERE contact_id = $id;";
        delete.Parameters.AddWithValue("$id", contactId);
        delete.ExecuteNonQuery();
    }

    internal void Load() => _store.Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, lookup, record FROM contacts";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var id = reader.GetInt64(0);
            var lookup = (byte[])reader[1];
            var plain = _store.Keys.Fields.TryOpen(AssociatedData(lookup), (byte[])reader[2])
                ?? throw new StoreException(StoreError.Tampered, "A contact record failed its integrity check: the database was modified outside SecureChat. Restore it from a backup.");
            var contact = JsonSerializer.Deserialize(plain, ContactJson.Default.Contact) ?? throw new StoreException(StoreError.Corrupt, "A contact record is empty.");
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
            if (!_store.Keys.Lookup(LookupPurpose, contact.AccountId.PublicKey).AsSpan().SequenceEqual(lookup))
            {
                throw new StoreException(StoreError.Tampered, "A contact record is stored under another contact's key: the database was modified outside SecureChat.");
            }

            _contacts[contact.Account] = contact with { Id = id };
            _lookups[id] = lookup;
        }

        return 0;
    });

    /// <summary>Moves the pins of the file-based store of earlier versions (<c>peers.sealed</c>) into the database.</summary>
    internal void ImportLegacyPins(string directory, Crypto.SecretBytes dataKey)
    {
        var path = Path.Combine(directory, "peers.sealed");
        if (!File.Exists(path))
        {
            return;
        }

        byte[] associatedData = [.. "SecureChat peers v1"u8, .. _self.PublicKey];
        using var plain = Crypto.SecretBox.TryOpen(dataKey.Span, associatedData, File.ReadAllBytes(path))
            ?? throw new StoreException(StoreError.Corrupt, $"{path} does not open under this identity's key: it is damaged or belongs to another identity.");
        List<LegacyPin> pins;
        try
        {
            pins = JsonSerializer.Deserialize<List<LegacyPin>>(plain.Span, Json) ?? [];
        }
        catch (JsonException ex)
        {
            throw new StoreException(StoreError.Corrupt, $"{path} is damaged (its content is not a list of pins); it was left in place.", ex);
        }

        if (pins.Any(p => !AccountId.TryParse(p.Account, out _)))
        {
            throw new StoreException(StoreError.Corrupt, $"{path} is damaged (a pin names no valid account); it was left in place.");
        }

        _store.Run(connection =>
        {
            foreach (var pin in pins.Where(p => !_contacts.ContainsKey(p.Account)))
            {
                Save(connection, new Contact
                {
                    Account = pin.Account,
                    Certificate = pin.Certificate,
                    DisplayName = pin.DisplayName,
                    Name = UniqueName(pin.DisplayName, pin.Account),
                    FirstSeen = pin.FirstSeen,
                    LastSeen = pin.LastSeen,
                    Endpoints = pin.Endpoints,
                });
            }

            return 0;
        });
        File.Delete(path);
    }

    /// <summary>The stable identity of the contact in row <paramref name="id"/> (its keyed lookup); null for no such row.</summary>
    internal byte[]? LookupOf(long id) => _store.Run(_ => _lookups.GetValueOrDefault(id));

    private Contact Current(Contact contact) =>
        _contacts.TryGetValue(contact.Account, out var current)
            ? current
            : throw new StoreException(StoreError.NoSuchContact, $"'{contact.Name}' is no longer a contact.");

    internal long IdOf(Contact contact) => _store.Run(_ => _contacts.TryGetValue(contact.Account, out var known) ? known.Id : throw new StoreException(StoreError.NoSuchContact, "That contact was removed."));

    private Contact NewContact(AccountId account, string name, DateTimeOffset now) => new()
    {
        Account = account.Text,
        Name = UniqueName(name, account.Text),
        FirstSeen = now,
        LastSeen = now,
    };

    /// <summary>True when another row shows <paramref name="name"/>, chosen or not (names made up for peers stay apart).</summary>
    private bool Shown(string name, string? except) =>
        _contacts.Values.Any(c => c.Account != except && string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

    private bool NameTaken(string name, string? except) =>
        _contacts.Values.Any(c => c.Account != except && c.Named && c.Standing == ContactStanding.Contact && string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// A valid, unused name: <paramref name="name"/> if it is one (else the ID's first characters),
    /// then with " (2)", " (3)"… until no other contact uses it, shortened to fit the name limit.
    /// </summary>
    private string UniqueName(string name, string account)
    {
        var stem = IsValidName(name) ? name : account[..8];
        var candidate = stem;
        for (var n = 2; Shown(candidate, account); n++)
        {
            var suffix = $" ({n})";
            var kept = stem;
            while (System.Text.Encoding.UTF8.GetByteCount(kept + suffix) > MaxNameBytes)
            {
                kept = kept[..^(char.IsLowSurrogate(kept[^1]) ? 2 : 1)];
            }

            candidate = kept + suffix;
        }

        return candidate;
    }

    /// <summary>A pin as the file-based store of earlier versions wrote it.</summary>
    private sealed record LegacyPin
    {
        public required string Account { get; init; }

        public string? Certificate { get; init; }

        public string DisplayName { get; init; } = string.Empty;

        public DateTimeOffset FirstSeen { get; init; }

        public DateTimeOffset LastSeen { get; init; }

        public IReadOnlyList<string> Endpoints { get; init; } = [];
    }

    private static IReadOnlyList<string> WithEndpoint(IReadOnlyList<string> endpoints, string? endpoint) =>
        endpoint is null
            ? endpoints
            : [endpoint, .. endpoints.Where(e => !string.Equals(e, endpoint, StringComparison.OrdinalIgnoreCase)).Take(7)];

    private Contact Save(SqliteConnection connection, Contact contact)
    {
        var lookup = _store.Keys.Lookup(LookupPurpose, contact.AccountId.PublicKey);
        var plain = JsonSerializer.SerializeToUtf8Bytes(contact, ContactJson.Default.Contact);
        var sealedRecord = _store.Keys.Fields.Seal(AssociatedData(lookup), plain);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO contacts (lookup, record) VALUES ($lookup, $record)
            ON CONFLICT (lookup) DO UPDATE SET record = excluded.record
            RETURNING id
            """;
        command.Parameters.AddWithValue("$lookup", lookup);
        command.Parameters.AddWithValue("$record", sealedRecord);
        var saved = contact with { Id = (long)command.ExecuteScalar()! };
        _contacts[saved.Account] = saved;
        _lookups[saved.Id] = lookup;
        return saved;
    }

    private static byte[] AssociatedData(byte[] lookup) => [.. "SecureChat contact v1"u8, .. lookup];
}
