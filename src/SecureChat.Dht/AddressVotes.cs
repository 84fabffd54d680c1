using System.Net;

namespace SecureChat.Dht;

/// <summary>
/// What responding nodes say they see this node at (BEP 42's "ip"), for one address family: one
/// vote per voter, its latest, among the most recent voters. An address wins once two voters at
/// different addresses agree, the one with most votes first and the most recent among equals.
/// </summary>
internal sealed class AddressVotes(int maxVoters)
{
    private readonly List<(IPAddress Voter, IPEndPoint Observed)> _votes = [];

    public IPEndPoint? Winner =>
        _votes.GroupBy(v => v.Observed)
            .Select(g => (Address: g.Key, Votes: g.Count(), Latest: _votes.FindLastIndex(v => v.Observed.Equals(g.Key))))
            .Where(g => g.Votes >= 2)
            .OrderByDescending(g => g.Votes)
            .ThenByDescending(g => g.Latest)
            .Select(g => g.Address)
            .FirstOrDefault();

    public void Vote(IPAddress voter, IPEndPoint observed)
    {
        _votes.RemoveAll(v => v.Voter.Equals(voter));
        if (_votes.Count >= maxVoters)
        {
            _votes.RemoveAt(0);
        }

        _votes.Add((voter, observed));
    }
}
