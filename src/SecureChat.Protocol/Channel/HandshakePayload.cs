using System.Text;
using Google.Protobuf;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Channel;

/// <summary>
/// What each side says about itself inside the encrypted handshake, as Protocol Buffers:
/// <code>
/// message HandshakePayload {
///   uint32 protocol_version   = 1;  // 1
///   bytes  device_certificate = 2;  // DeviceCertificate, 169 bytes
///   string display_name       = 3;  // at most 64 UTF-8 bytes, nothing DisplayText.IsDeceptive
/// }
/// </code>
/// Unknown fields are skipped, so later versions can add to it.
/// </summary>
public sealed record HandshakePayload(uint ProtocolVersion, DeviceCertificate Certificate, string DisplayName)
{
    public const int MaxDisplayNameBytes = 64;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public byte[] Encode()
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(1, WireFormat.WireType.Varint);
        output.WriteUInt32(ProtocolVersion);
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(Certificate.Encoded));
        if (DisplayName.Length > 0)
        {
            output.WriteTag(3, WireFormat.WireType.LengthDelimited);
            output.WriteString(DisplayName);
        }

        output.Flush();
        return stream.ToArray();
    }

    /// <summary>
    /// Decodes a payload received from a peer. Null for malformed protobuf, a missing or invalid
    /// certificate, or a display name that is too long or contains a character <see cref="DisplayText.IsDeceptive"/> refuses.
    /// </summary>
    public static HandshakePayload? TryDecode(ReadOnlySpan<byte> encoded)
    {
        uint version = 0;
        DeviceCertificate? certificate = null;
        var name = string.Empty;
        try
        {
            var input = new CodedInputStream(encoded.ToArray());
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag))
                {
                    case (1, WireFormat.WireType.Varint):
                        version = input.ReadUInt32();
                        break;
                    case (2, WireFormat.WireType.LengthDelimited):
                        certificate = DeviceCertificate.TryDecode(input.ReadBytes().Span);
                        if (certificate is null)
                        {
                            return null;
                        }

                        break;
                    case (3, WireFormat.WireType.LengthDelimited):
                        var bytes = input.ReadBytes();
                        if (bytes.Length > MaxDisplayNameBytes)
                        {
                            return null;
                        }

                        name = new UTF8Encoding(false, true).GetString(bytes.Span);
                        break;
                    default:
                        input.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        if (certificate is null || version == 0 || !IsValidDisplayName(name))
        {
            return null;
        }

        return new HandshakePayload(version, certificate, name);
    }

    /// <summary>
    /// Display names are short and show what they say: they end up on terminals and web pages.
    /// They are whole UTF-16 (no lone surrogate), so that the peer decodes the name that was encoded.
    /// </summary>
    public static bool IsValidDisplayName(string name)
    {
        try
        {
            return StrictUtf8.GetByteCount(name) <= MaxDisplayNameBytes && !name.Any(DisplayText.IsDeceptive);
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }
}
