using SecureChat.Crypto;
using SecureChat.Protocol.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// An account as discovery sees it: only its Ed25519 seed and ID, no device or store. Two of these
/// in one test are the two contacts; a third is the outsider.
/// </summary>
internal sealed class DiscoveryAccount : IDisposable
{
    private readonly SecretBytes _seed;

    public DiscoveryAccount()
    {
        var publicKey = new byte[Ed25519.PublicKeySize];
        _seed = Ed25519.GenerateKeyPair(publicKey);
        Id = AccountId.FromPublicKey(publicKey);
    }

    public AccountId Id { get; }

    public ReadOnlySpan<byte> Seed => _seed.Span;

    /// <summary>This account's pair secret with <paramref name="contact"/>; fails the test if there is none.</summary>
    public SecretBytes PairWith(DiscoveryAccount contact) =>
        PairSecret.Derive(Seed, Id, contact.Id) ?? throw new Xunit.Sdk.XunitException("No pair secret for two valid accounts.");

    /// <summary>The keys of the record <paramref name="publisher"/> stores for <paramref name="reader"/>, as this account derives them.</summary>
    public RendezvousKeys Rendezvous(DiscoveryAccount contact, long epoch, DiscoveryAccount publisher, DiscoveryAccount reader)
    {
        using var pair = PairWith(contact);
        return RendezvousKeys.Derive(pair.Span, epoch, publisher.Id, reader.Id);
    }

    /// <summary>The tag key for beacons <paramref name="sender"/> sends to <paramref name="receiver"/>, as this account derives it.</summary>
    public byte[] TagKey(DiscoveryAccount contact, DiscoveryAccount sender, DiscoveryAccount receiver)
    {
        using var pair = PairWith(contact);
        return LanBeacon.TagKey(pair.Span, sender.Id, receiver.Id);
    }

    public void Dispose() => _seed.Dispose();
}
