namespace SecureChat.Dht.Tests;

/// <summary>A KRPC error reply (a refused put, an unknown method) shows the node is alive: it does not count toward "bad".</summary>
public sealed class ErrorReplyTests
{
    [Fact]
    public void Receive_ErrorRepliesToQueries_KeepTheNodeGood()
    {
        var test = new NodeUnderTest();
        var peer = NodeUnderTest.Address(9);
        var id = NodeId.Random();
        Reply(test, peer, new BDictionary().Set("t", Transaction(test, () => test.Node.Ping(peer))).Set("y", "r").Set("r", new BDictionary().Set("id", id.ToArray())));
        Assert.True(test.Node.Routing.Contains(id));

        for (var i = 0; i < 3; i++)
        {
            var transaction = Transaction(test, () => test.Node.Ping(peer));
            Reply(test, peer, new BDictionary().Set("t", transaction).Set("y", "e").Set("e", new BList([new BInteger(202), BString.Of("Server Error")])));
        }

        var entry = Assert.Single(test.Node.Routing.All, e => e.Id == id);
        Assert.False(entry.IsBad);
        Assert.Equal(0, entry.Failures);
    }

    private static byte[] Transaction(NodeUnderTest test, Func<Task> send)
    {
        var before = test.Sent.Count;
        _ = send();
        return KrpcMessage.TryParse(test.Sent[before].Bytes, out _)!.TransactionId;
    }

    private static void Reply(NodeUnderTest test, System.Net.IPEndPoint from, BDictionary message) => test.Node.Receive(message.Encode(), from);
}
