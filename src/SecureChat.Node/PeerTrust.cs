using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Trust on first use: judges a peer's certificate against the pins, and explains a refusal in
/// words that tell the person what it may mean and how to re-verify.
/// </summary>
public static class PeerTrust
{
    /// <summary>A verifier for a connection this node dials to <paramref name="endpoint"/>.</summary>
    public static PeerVerifier ForDial(ContactBook contacts, PeerEndpoint endpoint, AccountId? expected) =>
        payload => Judge(contacts.Check(payload.Certificate, endpoint.ToString(), expected), payload, endpoint.ToString());

    /// <summary>
    /// A verifier for an address discovery suggested (a LAN beacon, a DHT record): only
    /// <paramref name="account"/> is accepted there, and its device key is held to the pin as for
    /// a connection it makes itself. Unlike an ID the person typed, a hint is no one's word that a
    /// new device is the contact's, and the address itself is no pin.
    /// </summary>
    public static PeerVerifier ForDiscovered(ContactBook contacts, PeerEndpoint endpoint, AccountId account) =>
        payload => payload.Certificate.Account.Equals(account)
            ? Judge(contacts.Check(payload.Certificate, null, null), payload, endpoint.ToString())
            : Judge(new PinCheck(PinVerdict.NotTheExpectedAccount, contacts.Find(account)), payload, endpoint.ToString());

    /// <summary>A verifier for connections this node accepts.</summary>
    public static PeerVerifier ForInbound(ContactBook contacts) =>
        payload => Judge(contacts.Check(payload.Certificate, null, null), payload, null);

    private static PeerRejection? Judge(PinCheck check, HandshakePayload payload, string? endpoint)
    {
        var presented = payload.Certificate.Account;
        var pinnedName = check.Pinned is { } pin ? $"'{DisplayText.Sanitize(pin.Name)}' ({pin.Account})" : "the pinned contact";
        return check.Verdict switch
        {
            PinVerdict.AccountChanged => new PeerRejection(
                ChannelError.PeerKeyMismatch,
                $"Refused: {endpoint} used to be {pinnedName}, but now presents another key, {presented} "
                + $"(fingerprint {presented.Fingerprint}). Someone may be intercepting the connection, or the contact reinstalled SecureChat "
                + $"or moved away from this address. Ask the contact for their ID by another channel (in person, by phone) and, if it is {presented}, "
                + $"connect with `securechat connect {presented}@{endpoint}` to trust it.",
                "your key differs from the one pinned for this address"),
            PinVerdict.NotTheExpectedAccount => new PeerRejection(
                ChannelError.PeerKeyMismatch,
                $"Refused: you asked for {ExpectedText(check)}, but {endpoint} presents {presented} (fingerprint {presented.Fingerprint}). "
                + "Check the ID and the address with the contact by another channel before trying again.",
                "you are not the account that was asked for"),
            PinVerdict.DeviceKeyChanged => new PeerRejection(
                ChannelError.PeerKeyMismatch,
                $"Refused: {pinnedName} presents a device key other than the one pinned on first contact, certified by the same account. "
                + "That happens when the contact restores their account on a new device, and also if someone copied their account key. "
                + $"Ask the contact by another channel (in person, by phone) whether they changed devices; if so, connect with `securechat connect {presented}@HOST:PORT` to trust the new device key.",
                "your device key differs from the one pinned for your account"),
            PinVerdict.Blocked => new PeerRejection(
                ChannelError.PeerRefused,
                $"Refused a connection from {presented} (fingerprint {presented.Fingerprint}): you blocked this account.",
                "this node does not accept connections from your account"),
            _ => null,
        };
    }

    private static string ExpectedText(PinCheck check) =>
        check.Pinned is { } pin ? $"'{DisplayText.Sanitize(pin.Name)}' ({pin.Account})" : "another ID";
}
