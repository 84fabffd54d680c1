using System.Runtime.InteropServices;

namespace SecureChat.Crypto.Interop;

/// <summary>
/// The libsodium entry points that NSec does not expose. The native library ships in the
/// <c>libsodium</c> NuGet package that NSec depends on.
/// </summary>
/// <remarks>
/// These are <c>DllImport</c>s with blittable by-reference parameters rather than
/// <c>LibraryImport</c>s: the source-generated stubs need unsafe code, which the strict build
/// (<c>AllowUnsafeBlocks=false</c>) does not allow. Blittable by-reference arguments are pinned by
/// the runtime and passed as pointers, with no marshalling copy.
/// </remarks>
internal static class Libsodium
{
    private const string Library = "libsodium";

    /// <summary>Size of a Curve25519 scalar and of a u-coordinate, in bytes.</summary>
    internal const int ScalarMultCurve25519Bytes = 32;

    private static readonly Lazy<bool> Initialized = new(() => sodium_init() >= 0, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Calls <c>sodium_init</c> once per process (0 = done now, 1 = already done, -1 = failure).</summary>
    internal static void EnsureInitialized()
    {
        if (!Initialized.Value)
        {
            throw new InvalidOperationException("libsodium could not be initialized.");
        }
    }

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int sodium_init();

    /// <summary>
    /// q = X25519(n, p) (RFC 7748 section 5). Returns -1 when p is a point of small order, i.e.
    /// when the result would be all zero; q is then unspecified.
    /// </summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_scalarmult_curve25519(ref byte q, in byte n, in byte p);

    /// <summary>q = X25519(n, 9): the public key of the private scalar n.</summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_scalarmult_curve25519_base(ref byte q, in byte n);

    /// <summary>The X25519 (Montgomery) form of an Ed25519 public key; -1 when it is not a valid point.</summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_sign_ed25519_pk_to_curve25519(ref byte curve25519PublicKey, in byte ed25519PublicKey);

    /// <summary>The X25519 private scalar of an Ed25519 secret key (libsodium's 64-byte seed-and-public-key form).</summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_sign_ed25519_sk_to_curve25519(ref byte curve25519PrivateKey, in byte ed25519SecretKey);
}
