using System.Net;
using System.Text;

namespace SecureChat.Dht;

public enum KrpcKind
{
    Query,
    Response,
    Error,
}

/// <summary>KRPC error codes: BEP 5's four and BEP 44's.</summary>
public static class KrpcErrorCode
{
    public const int Generic = 201;
    public const int Server = 202;
    public const int Protocol = 203;
    public const int MethodUnknown = 204;
    public const int ValueTooBig = 205;
    public const int InvalidSignature = 206;
    public const int SaltTooBig = 207;
    public const int CasMismatch = 301;
    public const int SequenceTooLow = 302;
}

/// <summary>
/// One KRPC message (BEP 5) after the envelope checks: a query with its method and "a" dictionary,
/// a response with its "r" dictionary, or an error. The sender's node ID is checked to be 20 bytes
/// for queries and responses. <see cref="ReadOnly"/> is BEP 43's "ro" flag; <see cref="ObservedAddress"/>
/// is BEP 42's "ip", the address the sender saw this node at.
/// </summary>
public sealed record KrpcMessage(
    byte[] TransactionId,
    KrpcKind Kind,
    string? Method,
    BDictionary Body,
    NodeId SenderId,
    int ErrorCode,
    string? ErrorText,
    bool ReadOnly,
    IPEndPoint? ObservedAddress)
{
    /// <summary>Datagrams larger than this are dropped unread: the largest legitimate one, a BEP 44 put, is about 1,200 bytes.</summary>
    public const int MaxDatagram = 4096;

    public const int MaxTransactionId = 16;
    public const int MaxMethodName = 32;

    /// <summary>Why a datagram was not a KRPC message; empty when it was.</summary>
    public static KrpcMessage? TryParse(ReadOnlyMemory<byte> datagram, out string problem)
    {
        problem = string.Empty;
        if (datagram.Length > MaxDatagram)
        {
            problem = "datagram too large";
            return null;
        }

        if (!Bencode.TryDecode(datagram, out var decoded, out var error))
        {
            problem = $"not bencode ({error})";
            return null;
        }

        if (decoded is not BDictionary root)
        {
            problem = "not a dictionary";
            return null;
        }

        var t = root.Bytes("t");
        if (t is null || t.Length is 0 or > MaxTransactionId)
        {
            problem = "bad transaction id";
            return null;
        }

        var y = root.Bytes("y");
        var readOnly = root.Integer("ro") == 1;
        var observed = root.Bytes("ip") is { } ip ? Compact.DecodePeer(ip) : null;
        switch (y is { Length: 1 } ? (char)y[0] : '\0')
        {
            case 'q':
                var q = root.Bytes("q");
                var a = root.Dictionary("a");
                if (q is null || q.Length is 0 or > MaxMethodName || a is null || !TryId(a, out var queryId))
                {
                    problem = "bad query";
                    return null;
                }

                return new KrpcMessage(t, KrpcKind.Query, Encoding.Latin1.GetString(q), a, queryId, 0, null, readOnly, observed);
            case 'r':
                var r = root.Dictionary("r");
                if (r is null || !TryId(r, out var responseId))
                {
                    problem = "bad response";
                    return null;
                }

                return new KrpcMessage(t, KrpcKind.Response, null, r, responseId, 0, null, readOnly, observed);
            case 'e':
                var e = root.List("e");
                if (e is not { Items: [BInteger code, BString text, ..] })
                {
                    problem = "bad error";
                    return null;
                }

                return new KrpcMessage(t, KrpcKind.Error, null, new BDictionary(), default, (int)Math.Clamp(code.Value, 0, 999), Printable(text.Value), readOnly, observed);
            default:
                problem = "unknown message type";
                return null;
        }
    }

    public static byte[] Query(byte[] transactionId, string method, BDictionary arguments, bool readOnly)
    {
        var root = new BDictionary().Set("t", transactionId).Set("y", "q").Set("q", method).Set("a", arguments);
        if (readOnly)
        {
            root.Set("ro", 1);
        }

        return root.Encode();
    }

    public static byte[] Response(byte[] transactionId, BDictionary values, IPEndPoint to) =>
        new BDictionary().Set("t", transactionId).Set("y", "r").Set("r", values).Set("ip", Compact.EncodePeer(to)).Encode();

    public static byte[] Error(byte[] transactionId, int code, string text) =>
        new BDictionary().Set("t", transactionId).Set("y", "e").Set("e", new BList([new BInteger(code), BString.Of(text)])).Encode();

    private static bool TryId(BDictionary body, out NodeId id)
    {
        id = default;
        return body.Bytes("id") is { } bytes && NodeId.TryFromBytes(bytes, out id);
    }

    private static string Printable(byte[] text)
    {
        var s = Encoding.UTF8.GetString(text, 0, Math.Min(text.Length, 200));
        return new string([.. s.Select(c => char.IsControl(c) ? '?' : c)]);
    }
}
