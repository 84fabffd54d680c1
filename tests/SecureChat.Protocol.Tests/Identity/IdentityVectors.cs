namespace SecureChat.Protocol.Identity.Tests;

/// <summary>
/// Fixed keys for golden values: the RFC 8032 section 7.1 TEST 1 and TEST 2 Ed25519 key pairs and
/// the RFC 7748 section 6.1 Alice X25519 public key. The golden certificate, IDs, fingerprint and
/// safety number in the tests were computed independently of this code (Python: pyca/cryptography
/// Ed25519, hashlib BLAKE2b and SHA-512, and a bit-string z-base-32 encoder).
/// </summary>
internal static class IdentityVectors
{
    public static readonly byte[] AccountSeed = Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    public static readonly byte[] AccountPublic = Convert.FromHexString("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    public static readonly byte[] OtherSeed = Convert.FromHexString("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    public static readonly byte[] OtherPublic = Convert.FromHexString("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    public static readonly byte[] AgreementPublic = Convert.FromHexString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");

    /// <summary>2025-01-01T00:00:00Z, 1735689600 seconds after the Unix epoch.</summary>
    public static readonly DateTimeOffset IssuedAt = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public const string AccountText = "47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy";
    public const string OtherText = "8iybxo9eeqriirizbkuw4g56z1qjomgxf5njpdgy3ik9nkzwcagy";

    /// <summary>Certificate by <see cref="AccountSeed"/> for device keys (<see cref="AgreementPublic"/>, <see cref="OtherPublic"/>) at <see cref="IssuedAt"/>.</summary>
    public const string CertificateHex =
        "01" +
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" +
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" +
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c" +
        "0000000067748580" +
        "957599ff2d65c77c6165af985d4c0ee89d6fc7ec6ed69190713ec88dea85861a" +
        "6f097b54142351b31d1f69a3d36d1a4e57da27c3a908fc7a23b2b4206ad24e04";

    public static IEnumerable<byte[]> EveryBitFlip(byte[] original)
    {
        for (var bit = 0; bit < original.Length * 8; bit++)
        {
            var copy = (byte[])original.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            yield return copy;
        }
    }
}
