using System.Net;
using System.Net.Sockets;
using CsCheck;
using SecureChat.Testing;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Property tests of the DHT's wire codecs: KRPC envelopes (BEP 5, 42, 43), compact peer and node
/// encodings (BEP 5, 32) and node IDs. Generated messages round-trip; random bytes, damaged
/// encodings and dictionaries of the right keys with values of any type give null with a problem
/// (or nothing) and never an exception.
/// </summary>
public sealed class KrpcPropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    private static readonly Gen<byte[]> TransactionIds = Gen.Byte.Array[1, KrpcMessage.MaxTransactionId];

    private static readonly Gen<string> Methods =
        Gen.Char["abcdefghijklmnopqrstuvwxyz_0123456789"].Array[1, KrpcMessage.MaxMethodName].Select(chars => new string(chars));

    private static readonly Gen<IPEndPoint> EndPoints = Gen.Select(
        Gen.OneOf(Gen.Byte.Array[4], Gen.Byte.Array[16]),
        Gen.Int[1, 65535],
        (address, port) => new IPEndPoint(new IPAddress(address), port));

    /// <summary>Extra entries a body may carry besides its "id": any key but "id", small values.</summary>
    private static readonly Gen<(string Key, byte[] Value)[]> Extras =
        Gen.Select(Gen.Char["abcdefgiklmnoprstuvw_"].Array[1, 10].Select(chars => new string(chars)).Where(key => key != "id"), Gen.Byte.Array[0, 30]).Array[0, 4];

    [Fact]
    public void TryParse_GeneratedQueries_RoundTrip()
    {
        Gen.Select(TransactionIds, Methods, Gen.Byte.Array[NodeId.Size], Extras, Gen.Bool).Sample((t, method, id, extras, readOnly) =>
        {
            var arguments = Body(id, extras);

            var message = KrpcMessage.TryParse(KrpcMessage.Query(t, method, arguments, readOnly), out var problem);

            Assert.NotNull(message);
            Assert.Equal(string.Empty, problem);
            Assert.Equal(KrpcKind.Query, message.Kind);
            Assert.Equal(t, message.TransactionId);
            Assert.Equal(method, message.Method);
            Assert.Equal(NodeId.FromBytes(id), message.SenderId);
            Assert.Equal(readOnly, message.ReadOnly);
            Assert.Equal(arguments.Encode(), message.Body.Encode());
            Assert.Null(message.ObservedAddress);
        }, iter: 1000);
    }

    [Fact]
    public void TryParse_GeneratedResponses_RoundTrip()
    {
        Gen.Select(TransactionIds, Gen.Byte.Array[NodeId.Size], Extras, EndPoints).Sample((t, id, extras, to) =>
        {
            var values = Body(id, extras);

            var message = KrpcMessage.TryParse(KrpcMessage.Response(t, values, to), out var problem);

            Assert.NotNull(message);
            Assert.Equal(string.Empty, problem);
            Assert.Equal(KrpcKind.Response, message.Kind);
            Assert.Equal(t, message.TransactionId);
            Assert.Equal(NodeId.FromBytes(id), message.SenderId);
            Assert.Equal(values.Encode(), message.Body.Encode());
            Assert.Equal(Compact.Normalize(to), message.ObservedAddress);
        }, iter: 1000);
    }

    [Fact]
    public void TryParse_GeneratedErrors_RoundTrip()
    {
        var texts = Gen.Char[" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:'-"].Array[0, 200].Select(chars => new string(chars));
        Gen.Select(TransactionIds, Gen.Int[0, 999], texts).Sample((t, code, text) =>
        {
            var message = KrpcMessage.TryParse(KrpcMessage.Error(t, code, text), out var problem);

            Assert.NotNull(message);
            Assert.Equal(string.Empty, problem);
            Assert.Equal(KrpcKind.Error, message.Kind);
            Assert.Equal(t, message.TransactionId);
            Assert.Equal(code, message.ErrorCode);
            Assert.Equal(text, message.ErrorText);
        }, iter: 1000);
    }

    [Fact]
    public void TryParse_ArbitraryBytes_NeverThrowAndNameTheProblem()
    {
        Gen.Byte.Array[0, 600].Sample(bytes => CheckTotal(bytes), iter: 5000);
    }

    [Fact]
    public void TryParse_DamagedMessages_NeverThrowAndNameTheProblem()
    {
        var messages = Gen.OneOf(
            Gen.Select(TransactionIds, Methods, Gen.Byte.Array[NodeId.Size], Extras, Gen.Bool, (t, method, id, extras, readOnly) => KrpcMessage.Query(t, method, Body(id, extras), readOnly)),
            Gen.Select(TransactionIds, Gen.Byte.Array[NodeId.Size], Extras, EndPoints, (t, id, extras, to) => KrpcMessage.Response(t, Body(id, extras), to)),
            Gen.Select(TransactionIds, Gen.Int, Gen.String, (t, code, text) => KrpcMessage.Error(t, code, text)));
        Gen.Select(messages, Mutations).Sample((message, mutation) =>
            CheckTotal(ByteMutation.Apply(message, mutation.Kind, mutation.Position, mutation.Bytes)), iter: 5000);
    }

    /// <summary>Random bytes rarely form a dictionary: here every envelope key is present with a value of any type.</summary>
    [Fact]
    public void TryParse_EnvelopeKeysWithValuesOfAnyType_NeverThrowAndNameTheProblem()
    {
        string[] keys = ["t", "y", "q", "a", "r", "e", "ip", "ro"];
        var values = Gen.OneOf(
            Gen.OneOf("q", "r", "e", "ping", "").Select(text => (BValue)BString.Of(text)),
            Gen.Byte.Array[0, 24].Select(bytes => (BValue)new BString(bytes)),
            Gen.Long.Select(n => (BValue)new BInteger(n)),
            Gen.OneOf(0L, 1L, 201L, long.MinValue, long.MaxValue).Select(n => (BValue)new BInteger(n)),
            Gen.Byte.Array[0, 24].Array[0, 3].Select(items => (BValue)new BList([.. items.Select(b => new BString(b))])),
            Gen.Select(Gen.Long, Gen.Byte.Array[0, 300]).Select((code, text) => (BValue)new BList([new BInteger(code), new BString(text)])),
            Gen.Select(Gen.Byte.Array[18, 22], Gen.Bool).Select((id, withId) => (BValue)(withId ? new BDictionary().Set("id", id) : new BDictionary())));
        Gen.Select(values.Array[keys.Length], Gen.Bool.Array[keys.Length]).Sample((entries, present) =>
        {
            var root = new BDictionary();
            for (var i = 0; i < keys.Length; i++)
            {
                if (present[i])
                {
                    root.Set(keys[i], entries[i]);
                }
            }

            CheckTotal(root.Encode());
        }, iter: 5000);
    }

    [Fact]
    public void DecodePeer_EncodedEndPoints_RoundTrip()
    {
        EndPoints.Sample(endPoint =>
        {
            var encoded = Compact.EncodePeer(endPoint);

            Assert.Equal(Compact.Family(endPoint) == AddressFamily.InterNetwork ? Compact.PeerV4 : Compact.PeerV6, encoded.Length);
            Assert.Equal(Compact.Normalize(endPoint), Compact.DecodePeer(encoded));
        }, iter: 2000);
    }

    [Fact]
    public void DecodePeer_ArbitraryBytes_AcceptsOnlyBothSizesWithAPort()
    {
        Gen.OneOf(Gen.Byte.Array[0, 40], Gen.Byte.Array[Compact.PeerV4], Gen.Byte.Array[Compact.PeerV6]).Sample(bytes =>
        {
            var decoded = Compact.DecodePeer(bytes);

            var valid = bytes.Length is Compact.PeerV4 or Compact.PeerV6 && (bytes[^2] | bytes[^1]) != 0;
            Assert.Equal(valid, decoded is not null);
            if (decoded is not null)
            {
                Assert.Equal(bytes[..^2], decoded.Address.GetAddressBytes());
                Assert.Equal((bytes[^2] << 8) | bytes[^1], decoded.Port);
            }
        }, iter: 5000);
    }

    [Fact]
    public void DecodeNodes_EncodedNodesOfEachFamily_RoundTrip()
    {
        var contacts = Gen.Select(Gen.Byte.Array[NodeId.Size], EndPoints, (id, endPoint) => new NodeContact(NodeId.FromBytes(id), endPoint)).List[0, 16];
        Gen.Select(contacts, Gen.OneOf(AddressFamily.InterNetwork, AddressFamily.InterNetworkV6)).Sample((nodes, family) =>
        {
            var encoded = Compact.EncodeNodes(nodes, family);

            var decoded = Compact.DecodeNodes(encoded, family);

            // Addresses no node can have (multicast, unspecified, ...) are dropped on the way in: NodeDecodingTests.
            var expected = nodes.Where(n => Compact.Family(n.EndPoint) == family).Select(n => n with { EndPoint = Compact.Normalize(n.EndPoint) })
                .Where(n => Compact.IsNodeAddress(n.EndPoint.Address)).ToList();
            Assert.Equal(expected, decoded);
        }, iter: 1000);
    }

    [Fact]
    public void TryParseHex_IdsWrittenAsText_RoundTripInEitherCase()
    {
        Gen.Select(Gen.Byte.Array[NodeId.Size], Gen.Bool).Sample((bytes, upper) =>
        {
            var id = NodeId.FromBytes(bytes);
            var text = upper ? id.ToString().ToUpperInvariant() : id.ToString();

            Assert.True(NodeId.TryParseHex(text, out var parsed));
            Assert.Equal(id, parsed);
            Assert.Equal(bytes, parsed.ToArray());
        }, iter: 1000);
    }

    [Fact]
    public void TryParseHex_ArbitraryText_IsFalseUnlessFortyHexDigits()
    {
        var nearHex = Gen.Char["0123456789abcdefABCDEFgx -"].Array[38, 42].Select(chars => new string(chars));
        Gen.OneOf(Gen.String, nearHex).Sample(text =>
        {
            var valid = text.Length == 2 * NodeId.Size && text.All(char.IsAsciiHexDigit);

            Assert.Equal(valid, NodeId.TryParseHex(text, out var id));
            Assert.Equal(valid ? Convert.FromHexString(text) : new byte[NodeId.Size], id.ToArray());
        }, iter: 5000);
    }

    private static BDictionary Body(byte[] id, (string Key, byte[] Value)[] extras)
    {
        var body = new BDictionary().Set("id", id);
        foreach (var (key, value) in extras)
        {
            body.Set(key, value);
        }

        return body;
    }

    private static void CheckTotal(byte[] datagram)
    {
        var message = KrpcMessage.TryParse(datagram, out var problem);

        Assert.Equal(message is null, problem.Length > 0);
        if (message is not null)
        {
            Assert.InRange(message.TransactionId.Length, 1, KrpcMessage.MaxTransactionId);
            Assert.True(message.Kind != KrpcKind.Query || message.Method is { Length: > 0 and <= KrpcMessage.MaxMethodName });
            Assert.InRange(message.ErrorCode, 0, 999);
            Assert.True(message.ErrorText is null || (message.ErrorText.Length <= 200 && !message.ErrorText.Any(char.IsControl)));
        }
    }
}
