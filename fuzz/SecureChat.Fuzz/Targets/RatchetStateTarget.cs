using SecureChat.Node;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// Stored session state, read back from disk after it was unsealed: the ratchet state format
/// (docs/ratchet.md section 5) through <see cref="RatchetSession.Import"/>, and the node's
/// <see cref="SessionRecord"/> around it. Damaged state must give null, never a throw or a huge allocation.
/// </summary>
internal sealed class RatchetStateTarget : IFuzzTarget
{
    private static readonly byte[] FirstAliceMessage = RatchetTarget.AliceMessages(1)[0];

    public string Name => "ratchet-state";

    public bool Run(byte[] input)
    {
        var accepted = false;
        using (var session = RatchetSession.Import(input, RatchetTarget.Options))
        {
            if (session is not null)
            {
                var exported = session.Export();
                using var again = RatchetSession.Import(exported, RatchetTarget.Options);
                FuzzInvariantException.Check(again is not null && again.Export().AsSpan().SequenceEqual(exported), "An imported state does not survive its own export.");
                session.TryDecrypt(FirstAliceMessage, FuzzKeys.Now, out _);
                accepted = true;
            }
        }

        using var record = SessionRecord.TryDecode(input, RatchetTarget.Options);
        if (record is not null)
        {
            using var again = SessionRecord.TryDecode(record.Encode(), RatchetTarget.Options);
            FuzzInvariantException.Check(again is not null && again.PeerConfirmed == record.PeerConfirmed, "A session record does not survive its own encoding.");
            accepted = true;
        }

        return accepted;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var messages = RatchetTarget.AliceMessages(4);
        using var bob = RatchetSession.InitializeBob(RatchetTarget.SharedSecret, RatchetTarget.BobPrivateKey, RatchetTarget.AssociatedData, RatchetTarget.Options);
        yield return ("bob-fresh", bob.Export());
        bob.TryDecrypt(messages[2], FuzzKeys.Now, out _);
        yield return ("bob-with-skipped-keys", bob.Export());
        using var alice = RatchetSession.InitializeAlice(
            RatchetTarget.SharedSecret, FuzzKeys.PublicAgreementKey(RatchetTarget.BobPrivateKey), RatchetTarget.AssociatedData, RatchetTarget.AlicePrivateKey, RatchetTarget.Options);
        yield return ("alice", alice.Export());
        using var record = new SessionRecord([.. Enumerable.Range(0, SessionRecord.SessionIdSize).Select(i => (byte)i)], RatchetSession.Import(bob.Export(), RatchetTarget.Options)!, peerConfirmed: true);
        yield return ("session-record", record.Encode());
    }
}
