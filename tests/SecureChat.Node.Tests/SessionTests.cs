using SecureChat.Protocol.Ratchet;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// The ratchet session kept with a contact (docs/protocol.md 6.2) over sockets and the real store,
/// the integration test of session choice: saved, and resumed by the next connection after both
/// nodes restarted on reopened stores. Its other decisions (a side that lost its session, a kept
/// session Bob has not yet opened anything in, resets, bootstrap) are tested in memory in
/// Session/PeerSessionHelloTests.cs, PeerSessionRestartTests.cs and PeerSessionResetTests.cs.
/// </summary>
public sealed class SessionTests(ITestOutputHelper output) : TwoNodeTests(output)
{

    [Fact]
    public async Task Start_BothRestartedWithStoresReopened_SavedSessionResumesAndMessagesFlow()
    {
        Bob.Start().AddContact(Alice.Account, "alice", null);
        Alice.Start().AddContact(Bob.Account, "bob", Bob.Endpoint);
        await ExchangeAsync("before");
        var id = SessionId(Alice, Bob);
        Assert.Equal(id, SessionId(Bob, Alice));

        await Alice.StopAsync();
        await Bob.StopAsync();
        Alice.ReopenStore();
        Bob.ReopenStore();
        Assert.Equal(id, SessionId(Alice, Bob));
        Assert.Equal(id, SessionId(Bob, Alice));

        Bob.Start();
        Alice.Start();
        await ExchangeAsync("after");
        Assert.Equal(id, SessionId(Alice, Bob));
        Assert.Equal(id, SessionId(Bob, Alice));
        string[] conversation = ["before from alice", "before from bob", "after from alice", "after from bob"];
        Assert.Equal(conversation, Alice.History(Bob).Select(m => m.Text));
        Assert.Equal(conversation, Bob.History(Alice).Select(m => m.Text));
    }

    /// <summary>The session ID each side saved for the other (SessionRecord: version, then the 16-byte ID).</summary>
    private static byte[] SessionId(NodeHome home, NodeHome peer)
    {
        var bytes = home.Store.Sessions.Load(home.ContactOf(peer));
        Assert.NotNull(bytes);
        using var record = SessionRecord.TryDecode(bytes, RatchetOptions.Default);
        Assert.NotNull(record);
        return record.Id;
    }

    /// <summary>Alice sends a text and bob answers it; each waits until the other has stored it.</summary>
    private async Task ExchangeAsync(string label)
    {
        Alice.Node.Send(Alice.ContactOf(Bob), $"{label} from alice");
        await Eventually.HoldsAsync(() => Alice.Store.Outbox.Count() == 0, $"alice's '{label}' delivered");
        Bob.Node.Send(Bob.ContactOf(Alice), $"{label} from bob");
        await Eventually.HoldsAsync(() => Bob.Store.Outbox.Count() == 0, $"bob's '{label}' delivered");
    }

}
