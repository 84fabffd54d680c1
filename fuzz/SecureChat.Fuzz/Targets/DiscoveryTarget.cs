using System.Net;
using System.Text;
using SecureChat.Net;
using SecureChat.Protocol.Discovery;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// What discovery reads from strangers, picked by the first byte: 0 an <see cref="EndpointList"/>
/// (a record's plaintext), 1 a sealed rendezvous record as the DHT returns it
/// (<see cref="RendezvousKeys.Open"/> under fixed keys), 2 a LAN beacon
/// (<see cref="LanBeacon.Recognise"/> with fixed tag keys), 3 an invite link (UTF-8 text).
/// </summary>
internal sealed class DiscoveryTarget : IFuzzTarget
{
    private static readonly byte[] PairSecret = FuzzKeys.Key("pair secret");
    private static readonly long Epoch = RendezvousKeys.EpochOf(FuzzKeys.Now);
    private static readonly RendezvousKeys Rendezvous = RendezvousKeys.Derive(PairSecret, Epoch, FuzzKeys.Peer.Account, FuzzKeys.Local.Account);
    private static readonly byte[][] TagKeys =
        [LanBeacon.TagKey(PairSecret, FuzzKeys.Peer.Account, FuzzKeys.Local.Account), FuzzKeys.Key("another contact's tag key")];

    public string Name => "discovery";

    public bool Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return false;
        }

        var rest = input.AsSpan(1);
        switch (input[0] % 4)
        {
            case 0:
                return CheckList(EndpointList.TryDecode(rest));
            case 1:
                return CheckList(Rendezvous.Open(rest));
            case 2:
                var (senders, port) = LanBeacon.Recognise(rest, TagKeys, FuzzKeys.Now);
                FuzzInvariantException.Check(senders.Count == 0 || port is > 0 and <= 65535, "A recognised beacon without a port.");
                FuzzInvariantException.Check(senders.All(s => s >= 0 && s < TagKeys.Length) && senders.Distinct().Count() == senders.Count, "A beacon named a tag key twice or one that does not exist.");
                return senders.Count > 0;
            default:
                var text = Encoding.UTF8.GetString(rest);
                if (InviteLink.TryParse(text, out var link, out var error))
                {
                    FuzzInvariantException.Check(link.Endpoints.Count <= InviteLink.MaxEndpoints, "A link with too many endpoints.");
                    FuzzInvariantException.Check(InviteLink.TryParse(link.ToString(), out var again, out _) && again.Account.Equals(link.Account) && again.Token == link.Token, "A link does not survive its own encoding.");
                    FuzzInvariantException.Check(link.Token is null || (InviteLink.TryDecodeToken(link.Token, out var token) && token.Length == InviteLink.TokenBytes), "A link kept a token that does not decode.");
                    return true;
                }

                FuzzInvariantException.Check(!string.IsNullOrEmpty(error), "A refused link without a reason.");
                return false;
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var list = new EndpointList(FuzzKeys.Now, [new IPEndPoint(IPAddress.Parse("192.0.2.10"), 7000), new IPEndPoint(IPAddress.Parse("2001:db8::7"), 7001)]);
        yield return ("endpoint-list", [0, .. list.Encode()]);
        yield return ("rendezvous-record", [1, .. Rendezvous.Seal(list)]);
        foreach (var (beacon, i) in LanBeacon.Build(TagKeys, 7000, FuzzKeys.Now).Select((b, i) => (b, i)))
        {
            yield return ($"lan-beacon-{i}", [2, .. beacon]);
        }

        var link = new InviteLink(FuzzKeys.Peer.Account, "Zoë", [new PeerEndpoint("192.0.2.10", 7000), new PeerEndpoint("2001:db8::7", 7001)]);
        yield return ("invite-link", [3, .. Encoding.UTF8.GetBytes(link.ToString())]);
        var oneTime = link with { Token = InviteLink.EncodeToken([.. Enumerable.Range(1, InviteLink.TokenBytes).Select(i => (byte)i)]) };
        yield return ("invite-link-one-time", [3, .. Encoding.UTF8.GetBytes(oneTime.ToString())]);
    }

    private static bool CheckList(EndpointList? list)
    {
        if (list is null)
        {
            return false;
        }

        FuzzInvariantException.Check(list.Endpoints.Count <= EndpointList.MaxEndpoints, "A list with too many endpoints.");
        FuzzInvariantException.Check(EndpointList.TryDecode(list.Encode()) is { } again && again.Encode().AsSpan().SequenceEqual(list.Encode()), "An endpoint list does not survive its own encoding.");
        return true;
    }
}
