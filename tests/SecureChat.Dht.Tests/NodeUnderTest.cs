using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;

namespace SecureChat.Dht.Tests;

/// <summary>
/// One <see cref="DhtNode"/> on a fake clock whose outgoing datagrams are captured, so that a test
/// can play any number of other nodes (honest or not) by handing it datagrams and reading its answers.
/// </summary>
internal sealed class NodeUnderTest
{
    private uint _transaction;

    public NodeUnderTest(DhtOptions? options = null, NodeId? id = null)
    {
        Node = new DhtNode(id ?? NodeId.Random(), options ?? new DhtOptions(), Time, (bytes, to) => Sent.Add(new Datagram(bytes, to)));
    }

    /// <summary>An IPv6 address from the documentation prefix (2001:db8::/32), one per index.</summary>
    public static IPEndPoint Address6(int index, int port = 6881) =>
        new(IPAddress.Parse($"2001:db8:{(index >> 16) & 0xffff:x}:{index & 0xffff:x}::{index % 251 + 1:x}"), port);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero));

    public DhtNode Node { get; }

    public List<Datagram> Sent { get; } = [];

    /// <summary>The querier's ID used when a test does not care which it is.</summary>
    public NodeId PeerId { get; } = NodeId.Random();

    public static IPEndPoint Address(int index, int port = 6881) =>
        new(new IPAddress([172, (byte)(16 + ((index >> 16) & 0x0f)), (byte)(index >> 8), (byte)index]), port);

    /// <summary>Sends a query (adding the querier's "id" unless the arguments carry one) and returns the node's answer to it, if any.</summary>
    public KrpcMessage? Query(string method, BDictionary arguments, IPEndPoint from, bool readOnly = false)
    {
        if (arguments["id"] is null)
        {
            arguments.Set("id", PeerId.ToArray());
        }

        var transaction = NextTransaction();
        return Answer(KrpcMessage.Query(transaction, method, arguments, readOnly), transaction, from);
    }

    /// <summary>Hands the node raw bytes and returns the answer carrying <paramref name="transaction"/>, if any.</summary>
    public KrpcMessage? Answer(byte[] datagram, byte[] transaction, IPEndPoint from)
    {
        var before = Sent.Count;
        Node.Receive(datagram, from);
        for (var i = before; i < Sent.Count; i++)
        {
            if (Sent[i].To.Equals(from) && KrpcMessage.TryParse(Sent[i].Bytes, out _) is { Kind: not KrpcKind.Query } answer
                && answer.TransactionId.AsSpan().SequenceEqual(transaction))
            {
                return answer;
            }
        }

        return null;
    }

    /// <summary>A query that must be answered with a response (not an error).</summary>
    public KrpcMessage Respond(string method, BDictionary arguments, IPEndPoint from)
    {
        var answer = Query(method, arguments, from);
        Assert.NotNull(answer);
        Assert.True(answer.Kind == KrpcKind.Response, $"{method}: error {answer.ErrorCode} {answer.ErrorText}");
        return answer;
    }

    /// <summary>A query that must be answered with the KRPC error <paramref name="code"/>.</summary>
    public void Refuses(string method, BDictionary arguments, IPEndPoint from, int code)
    {
        var answer = Query(method, arguments, from);
        Assert.NotNull(answer);
        Assert.True(answer.Kind == KrpcKind.Error, $"{method} was answered, expected error {code}");
        Assert.Equal(code, answer.ErrorCode);
    }

    /// <summary>The write token the node hands <paramref name="from"/> (from a get_peers answer).</summary>
    public byte[] TokenFor(IPEndPoint from)
    {
        var answer = Respond("get_peers", new BDictionary().Set("info_hash", NodeId.Random().ToArray()), from);
        return answer.Body.Bytes("token") ?? throw new InvalidOperationException("get_peers answered without a token");
    }

    /// <summary>The queries the node sent since <paramref name="since"/>, parsed.</summary>
    public List<(KrpcMessage Query, IPEndPoint To)> QueriesSent(int since = 0) =>
        [.. Sent.Skip(since).Select(d => (Message: KrpcMessage.TryParse(d.Bytes, out _), d.To))
            .Where(q => q.Message is { Kind: KrpcKind.Query })
            .Select(q => (q.Message!, q.To))];

    public void Advance(TimeSpan by) => Time.Advance(by);

    private byte[] NextTransaction()
    {
        _transaction++;
        return [(byte)'t', (byte)(_transaction >> 16), (byte)(_transaction >> 8), (byte)_transaction, .. RandomNumberGenerator.GetBytes(2)];
    }

    public sealed record Datagram(byte[] Bytes, IPEndPoint To);
}
