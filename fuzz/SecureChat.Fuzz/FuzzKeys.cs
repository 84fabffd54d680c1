using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Fuzz;

/// <summary>
/// The fixed keys every target uses, derived from labels, so that the committed seeds (made with
/// the same keys) replay exactly. They protect nothing: never use them outside fuzzing.
/// </summary>
internal static class FuzzKeys
{
    /// <summary>The clock every target reads: the seeds were made at this instant.</summary>
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The side the harness plays.</summary>
    public static LocalIdentity Local { get; } = Identity("local", "Local");

    /// <summary>The side whose messages the input carries.</summary>
    public static LocalIdentity Peer { get; } = Identity("peer", "Peer");

    public static byte[] LocalEphemeral { get; } = Key("local ephemeral");

    public static byte[] PeerEphemeral { get; } = Key("peer ephemeral");

    /// <summary>Thirty-two bytes named by <paramref name="label"/>.</summary>
    public static byte[] Key(string label) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("SecureChat fuzz key: " + label));

    public static byte[] PublicAgreementKey(ReadOnlySpan<byte> privateKey)
    {
        var publicKey = new byte[X25519.KeySize];
        X25519.DerivePublicKey(privateKey, publicKey);
        return publicKey;
    }

    private static LocalIdentity Identity(string label, string displayName)
    {
        var account = Key(label + " account");
        var signing = Key(label + " device signing");
        var agreement = Key(label + " device agreement");
        var signingPublic = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(signing, signingPublic);
        var certificate = DeviceCertificate.Issue(account, PublicAgreementKey(agreement), signingPublic, Now);
        return LocalIdentity.TryRestore(displayName, account, agreement, signing, certificate.Encoded)
            ?? throw new InvalidOperationException("The fixed fuzzing identity does not restore.");
    }
}

/// <summary>A fixed clock: targets must not depend on when they run.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public static FixedTime Instance { get; } = new(FuzzKeys.Now);

    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>A target found a decoder breaking its own contract: to AFL++ this is a crash like any other.</summary>
public sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException()
    {
    }

    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}
