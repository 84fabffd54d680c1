using System.Net;

namespace SecureChat.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// One put or announce: sends the store to each node once, early (while the get walk runs) or
    /// at the walk's end, counts the acknowledgements, and completes when the walk has ended and
    /// every store sent has been answered or has timed out.
    /// </summary>
    private sealed class StoreOperation(DhtNode node, NodeId target, string method, Func<BDictionary> arguments)
    {
        private readonly TaskCompletionSource<StoreResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<IPEndPoint> _asked = [];
        private readonly List<string> _errors = [];
        private int _accepted;
        private int _outstanding;
        private bool _walkEnded;

        public Task<StoreResult> Task => _done.Task;

        /// <summary>Stores on a node that handed out a token, unless it was asked already.</summary>
        public void Send(LookupNode to)
        {
            var endPoint = to.Contact.EndPoint;
            if (to.Token is null || !_asked.Add(endPoint))
            {
                return;
            }

            var sent = node.SendQuery(endPoint, to.Contact.Id, method, arguments().Set("token", to.Token), answer =>
            {
                if (answer is { Kind: KrpcKind.Response })
                {
                    _accepted++;
                }
                else
                {
                    _errors.Add(answer is null ? $"{endPoint}: no answer" : $"{endPoint}: {answer.ErrorCode} {answer.ErrorText}");
                }

                _outstanding--;
                CompleteWhenDone();
            }, null);
            if (sent)
            {
                _outstanding++;
            }
            else
            {
                _errors.Add($"{endPoint}: not sent (too many queries pending)");
            }
        }

        /// <summary>The walk ended: the final k closest with a token that were not asked early are asked now.</summary>
        public void WalkEnded(LookupResult lookup)
        {
            foreach (var closest in lookup.Closest)
            {
                Send(closest);
            }

            _walkEnded = true;
            if (_asked.Count == 0)
            {
                _errors.Add("no node near the target answered");
            }

            CompleteWhenDone();
        }

        private void CompleteWhenDone()
        {
            if (_walkEnded && _outstanding == 0)
            {
                _done.TrySetResult(new StoreResult(target, _accepted, _asked.Count, _errors));
            }
        }
    }
}
