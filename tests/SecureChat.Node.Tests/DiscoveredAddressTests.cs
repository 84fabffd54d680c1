using System.Net;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Addresses that discovery suggests (a LAN beacon, a DHT record) are dialed with the contact's
/// account required, and are held to the same device pin as any other connection: a hint is no
/// person's word that a new device key is the contact's (docs/discovery.md sections 3 and 5).
/// </summary>
public sealed class DiscoveredAddressTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly ITestOutputHelper _output;
    private readonly NodeHome _alice;
    private readonly NodeHome _bob;
    private NodeHome? _bobElsewhere;

    public DiscoveredAddressTests(ITestOutputHelper output)
    {
        _output = output;
        _alice = new NodeHome("alice", new TestOutputLogger(output, "alice"));
        _bob = new NodeHome("bob", new TestOutputLogger(output, "bob"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
        if (_bobElsewhere is not null)
        {
            await _bobElsewhere.DisposeAsync();
        }
    }

    /// <summary>
    /// Whoever holds bob's account key (a thief, or bob on a new device) can certify a new device
    /// and make alice's node hear of its address. Dialing that hint must not quietly re-pin bob's
    /// device: it is refused as a connection from the new device would be, and the pin stays.
    /// </summary>
    [Fact]
    public async Task Hint_ContactsAccountWithAnotherDeviceKey_IsRefusedAndThePinStays()
    {
        var aliceNode = _alice.Start();
        _bob.Start();
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob), "alice online with bob's first device");
        var pinned = _alice.ContactOf(_bob).DecodeCertificate()!.DeviceAgreementKey.ToArray();
        await _bob.StopAsync();
        await Eventually.HoldsAsync(() => !aliceNode.IsOnline(bob), "alice sees bob's first device gone");

        _bobElsewhere = new NodeHome(OtherDevice(_bob.Identity), new TestOutputLogger(_output, "bob-elsewhere"));
        var elsewhereNode = _bobElsewhere.Start();
        await using var elsewhereTrail = new EventTrail(elsewhereNode);

        aliceNode.Hint(_bob.Account, new IPEndPoint(IPAddress.Loopback, _bobElsewhere.Port), "a test");

        // Alice tries IK with the pinned key (the new device cannot answer it), then XX, whose
        // verdict decides: two failed handshakes on the other side, or alice online with it.
        await Eventually.HoldsAsync(
            () => aliceNode.IsOnline(bob) || elsewhereTrail.Of<ConnectionProblem>().Count >= 2,
            "alice's verdict on the hinted address",
            () => $"Problems on the other device: {elsewhereTrail.Of<ConnectionProblem>().Count}.");

        Assert.False(aliceNode.IsOnline(bob), $"Alice took bob's new device at {aliceNode.OnlineEndpoint(bob)} on a hint.");
        Assert.Equal(pinned, _alice.ContactOf(_bob).DecodeCertificate()!.DeviceAgreementKey.ToArray());
    }

    /// <summary>The same account on another device: new device keys, certified by the account key.</summary>
    private static LocalIdentity OtherDevice(LocalIdentity identity)
    {
        Span<byte> deviceSigningPublic = stackalloc byte[Ed25519.PublicKeySize];
        using var deviceSigning = Ed25519.GenerateKeyPair(deviceSigningPublic);
        var agreementPrivate = new byte[X25519.KeySize];
        Span<byte> agreementPublic = stackalloc byte[X25519.KeySize];
        X25519.GenerateKeyPair(agreementPrivate, agreementPublic);
        var certificate = DeviceCertificate.Issue(identity.AccountPrivateKey, agreementPublic, deviceSigningPublic, Now);
        return LocalIdentity.TryRestore(identity.DisplayName, identity.AccountPrivateKey, agreementPrivate, deviceSigning.Span, certificate.Encoded)
            ?? throw new InvalidOperationException("The other device's keys do not match its certificate.");
    }
}
