using System.Text.Json;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage;

/// <summary>A peer's keys as first seen (trust on first use), with where it was reached.</summary>
public sealed record PinnedPeer
{
    public required string Account { get; init; }

    public required string Certificate { get; init; }

    public required string DisplayName { get; init; }

    public required DateTimeOffset FirstSeen { get; init; }

    public required DateTimeOffset LastSeen { get; init; }

    public IReadOnlyList<string> Endpoints { get; init; } = [];

    public DeviceCertificate DecodeCertificate() =>
        DeviceCertificate.TryDecode(Convert.FromBase64String(Certificate))
        ?? throw new StoreException(StoreError.Corrupt, "A pinned certificate in the peer book no longer verifies; the peer book is damaged.");
}

/// <summary>What a presented certificate means against the pins.</summary>
public enum PinVerdict
{
    /// <summary>Never seen: pin it.</summary>
    New,

    /// <summary>Matches the pin.</summary>
    Known,

    /// <summary>The dialed address belongs to a pinned peer, but another account answered.</summary>
    AccountChanged,

    /// <summary>The account is pinned, but it presents a device key other than the pinned one.</summary>
    DeviceKeyChanged,

    /// <summary>The person dialing named the ID to expect, and another one answered.</summary>
    NotTheExpectedAccount,
}

/// <summary>The verdict, with the pin it was checked against.</summary>
public sealed record PinCheck(PinVerdict Verdict, PinnedPeer? Pinned);

/// <summary>
/// <c>peers.sealed</c>: the pinned keys of every peer met, sealed as one value under the data key
/// (names are private too). Thread-safe; every change is written atomically.
/// </summary>
public sealed class PeerBook : IDisposable
{
    public const string FileName = "peers.sealed";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly byte[] _dataKey;
    private readonly byte[] _associatedData;
    private readonly Dictionary<string, PinnedPeer> _peers;
    private bool _disposed;

    private PeerBook(string path, byte[] dataKey, byte[] associatedData, Dictionary<string, PinnedPeer> peers)
    {
        _path = path;
        _dataKey = dataKey;
        _associatedData = associatedData;
        _peers = peers;
    }

    /// <summary>Opens the peer book of <paramref name="self"/> in <paramref name="directory"/> (empty if none yet).</summary>
    public static PeerBook Open(string directory, SecretBytes dataKey, AccountId self)
    {
        ArgumentNullException.ThrowIfNull(dataKey);
        ArgumentNullException.ThrowIfNull(self);
        var path = Path.Combine(directory, FileName);
        byte[] associatedData = [.. "SecureChat peers v1"u8, .. self.PublicKey];
        var key = dataKey.Span.ToArray();
        var peers = new Dictionary<string, PinnedPeer>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            using var plain = SecretBox.TryOpen(key, associatedData, File.ReadAllBytes(path))
                ?? throw new StoreException(StoreError.Corrupt, $"{path} does not open under this identity's key: it is damaged or belongs to another identity.");
            try
            {
                foreach (var peer in JsonSerializer.Deserialize<List<PinnedPeer>>(plain.Span, Json) ?? [])
                {
                    peers[peer.Account] = peer;
                }
            }
            catch (JsonException ex)
            {
                throw new StoreException(StoreError.Corrupt, $"{path} is damaged (its content is not a peer list).", ex);
            }
        }

        return new PeerBook(path, key, associatedData, peers);
    }

    public IReadOnlyList<PinnedPeer> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _peers.Values.OrderBy(p => p.FirstSeen)];
            }
        }
    }

    public PinnedPeer? Find(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        lock (_lock)
        {
            return _peers.GetValueOrDefault(account.Text);
        }
    }

    /// <summary>The peer last reached at <paramref name="endpoint"/>, if any.</summary>
    public PinnedPeer? FindByEndpoint(string endpoint)
    {
        lock (_lock)
        {
            return _peers.Values
                .Where(p => p.Endpoints.Contains(endpoint, StringComparer.OrdinalIgnoreCase))
                .MaxBy(p => p.LastSeen);
        }
    }

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

        // With an explicit expected ID the person has verified the account out of band, and the
        // account key itself signed this device certificate: a new device key is then accepted.
        if (expected is null && !pinned.DecodeCertificate().DeviceAgreementKey.SequenceEqual(presented.DeviceAgreementKey))
        {
            return new PinCheck(PinVerdict.DeviceKeyChanged, pinned);
        }

        return new PinCheck(PinVerdict.Known, pinned);
    }

    /// <summary>Pins (or refreshes) a peer and records where it was reached; saved at once.</summary>
    public PinnedPeer Pin(DeviceCertificate certificate, string displayName, string? endpoint, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var key = certificate.Account.Text;
            var existing = _peers.GetValueOrDefault(key);
            var endpoints = existing?.Endpoints ?? [];
            if (endpoint is not null)
            {
                // An address belongs to one peer at a time: the newest one reached there.
                foreach (var other in _peers.Values.Where(p => p.Account != key && p.Endpoints.Contains(endpoint, StringComparer.OrdinalIgnoreCase)).ToList())
                {
                    _peers[other.Account] = other with { Endpoints = [.. other.Endpoints.Where(e => !string.Equals(e, endpoint, StringComparison.OrdinalIgnoreCase))] };
                }

                endpoints = [endpoint, .. endpoints.Where(e => !string.Equals(e, endpoint, StringComparison.OrdinalIgnoreCase)).Take(7)];
            }

            var peer = new PinnedPeer
            {
                Account = key,
                Certificate = Convert.ToBase64String(certificate.Encoded),
                DisplayName = displayName,
                FirstSeen = existing?.FirstSeen ?? now,
                LastSeen = now,
                Endpoints = endpoints,
            };
            _peers[key] = peer;
            Save();
            return peer;
        }
    }

    /// <summary>Wipes this book's copy of the data key.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_dataKey);
        }
    }

    private void Save()
    {
        var plain = JsonSerializer.SerializeToUtf8Bytes(_peers.Values.ToList(), Json);
        try
        {
            DataDirectory.WriteAtomically(_path, SecretBox.Seal(_dataKey, _associatedData, plain));
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
        }
    }
}
