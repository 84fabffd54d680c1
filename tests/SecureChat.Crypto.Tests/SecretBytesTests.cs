using System.Text;

namespace SecureChat.Crypto.Tests;

/// <summary>The one carrier of key material: it wipes on dispose and never shows its content.</summary>
public sealed class SecretBytesTests
{
    [Fact]
    public void Dispose_AdoptedArray_IsWipedToZero()
    {
        var owned = Enumerable.Repeat((byte)0xA5, 32).ToArray();
        var secret = SecretBytes.Adopt(owned);

        secret.Dispose();

        Assert.All(owned, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Span_AfterDispose_ThrowsObjectDisposedException()
    {
        var secret = new SecretBytes([1, 2, 3]);

        secret.Dispose();

        Assert.Throws<ObjectDisposedException>(() => secret.Span.Length);
    }

    [Fact]
    public void Dispose_Twice_DoesNotThrow()
    {
        var secret = SecretBytes.Random(16);

        secret.Dispose();
        secret.Dispose();

        Assert.Throws<ObjectDisposedException>(() => secret.Span.Length);
    }

    [Fact]
    public void Constructor_Source_IsCopied()
    {
        var source = new byte[] { 1, 2, 3, 4 };
        using var secret = new SecretBytes(source);

        source[0] = 99;

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, secret.Span.ToArray());
    }

    [Fact]
    public void Adopt_Array_IsNotCopied()
    {
        var owned = new byte[] { 1, 2, 3, 4 };
        using var secret = SecretBytes.Adopt(owned);

        owned[0] = 99;

        Assert.Equal(99, secret.Span[0]);
    }

    [Fact]
    public void Adopt_Null_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => SecretBytes.Adopt(null!));
    }

    [Fact]
    public void ToString_Secret_ShowsOnlyTheLength()
    {
        var content = "hunter2-correct-horse"u8.ToArray();
        using var secret = new SecretBytes(content);

        var text = secret.ToString();

        Assert.Equal($"SecretBytes[{content.Length}]", text);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(content.AsSpan(0, 4)), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(content)[..8], text, StringComparison.Ordinal);
        Assert.DoesNotContain(Encoding.UTF8.GetString(content), $"{secret}", StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_AfterDispose_DoesNotThrow()
    {
        var secret = SecretBytes.Random(8);
        secret.Dispose();

        Assert.Equal("SecretBytes[8]", secret.ToString());
    }

    [Fact]
    public void Random_Twice_GivesDistinctBytesOfTheRequestedLength()
    {
        using var a = SecretBytes.Random(32);
        using var b = SecretBytes.Random(32);

        Assert.Equal(32, a.Length);
        Assert.False(a.Span.SequenceEqual(b.Span));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Random_NonPositiveLength_ThrowsArgumentOutOfRangeException(int length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecretBytes.Random(length));
    }
}
