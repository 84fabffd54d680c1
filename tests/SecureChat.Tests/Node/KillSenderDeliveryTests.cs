using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using SecureChat.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>
/// The sender's half of the delivery promise under crashes, end to end with real processes: the
/// test posts messages to A's local API while A's node (and, in the second case, B's node in turn)
/// is killed with SIGKILL and restarted on the same home. Each kill lands while posts are in
/// flight: in half of the rounds one at a time, in the other half a window of concurrent posts, so
/// the kill falls inside the node's group commit of the outbox (a "file of writes"). Afterwards:
/// every post that was answered 202 is in B's history exactly once; a post cut by the kill is
/// there at most once; B holds exactly what A holds, in A's order (rounds in sequence, one-at-a-time
/// posts in the order they were acknowledged); and A shows every message delivered. The schedule
/// comes from a seeded <see cref="Random"/>; the seed is printed, and <c>SECURECHAT_CHAOS_SEED=N</c>
/// replays it.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The chaos schedule must be reproducible from a printed seed; nothing secret is drawn from it.")]
public sealed class KillSenderDeliveryTests
{
    private const string SeedVariable = "SECURECHAT_CHAOS_SEED";

    /// <summary>Posts of one round, at most; a kill comes before a round ends.</summary>
    private const int RoundCap = 150;

    /// <summary>Posts at once in a burst round: many sends share one outbox transaction.</summary>
    private const int BurstWindow = 48;

    /// <summary>Posts after the last kill: sending works again on the restarted node.</summary>
    private const int FinalRound = 60;

    private static readonly TimeSpan DeliveryDeadline = TimeSpan.FromSeconds(45);

    private readonly ITestOutputHelper _output;

    public KillSenderDeliveryTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// <paramref name="alternate"/> false: only A, the sender, is killed (5 times). True: A and B
    /// are killed in turn (6 kills, the first side chosen by the seed).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_SenderKilledWhilePostsAreInFlight_EveryAcknowledgedMessageArrivesOnceInOrder(bool alternate)
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
        var random = new Random(seed);
        _output.WriteLine($"seed {seed} (replay with {SeedVariable}={seed})");
        var clock = Stopwatch.StartNew();
        var kills = alternate ? 6 : 5;
        var firstKillsA = !alternate || random.Next(2) == 0;

        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        // Each node restarts on its own port, where the other knows it; A is told B's before B starts.
        var aListen = LoopbackPort.Unused();
        var bListen = LoopbackPort.Unused();
        await NodeCli.AddContactAsync(aHome, identities[1], bListen);
        await NodeCli.KnowAsync(bHome, identities[0]);

        var a = await RunningNode.StartAsync(aHome, "A #1", aListen, verbose: true);
        var b = await RunningNode.StartAsync(bHome, "B #1", bListen, verbose: true);
        var nodes = new List<RunningNode> { a, b };
        var posts = new List<Post>();
        var cutPosts = 0;
        try
        {
            var index = 0;
            for (var round = 0; round < kills; round++)
            {
                var killA = alternate ? (round % 2 == 0) == firstKillsA : true;
                var burst = random.Next(2) == 0;
                var killAfter = random.Next(10, RoundCap * 3 / 4);
                var acknowledged = new AckCounter(killAfter);
                var sending = SendRoundAsync(a.Api, round, index, RoundCap, burst, acknowledged);

                // The moment of the blow: after a random number of acknowledged posts of this round, with more in flight.
                await acknowledged.Reached.WaitAsync(ChatProcess.Timeout);
                if (killA)
                {
                    await a.KillAsync();
                }
                else
                {
                    await b.KillAsync();
                }

                var sent = await sending.WaitAsync(ChatProcess.Timeout);
                posts.AddRange(sent);
                index += sent.Count;
                var cut = sent.Count(p => p.Answer is null);
                cutPosts += cut;
                _output.WriteLine($"round {round}: {(burst ? $"bursts of {BurstWindow}" : "one at a time")}, {(killA ? "A" : "B")} killed after {killAfter} acknowledged posts; {sent.Count - cut} acknowledged, {cut} cut");
                await Task.Delay(random.Next(20, 400));
                if (killA)
                {
                    a = await RunningNode.StartAsync(aHome, $"A #{round + 2}", aListen, verbose: true);
                    nodes.Add(a);
                }
                else
                {
                    b = await RunningNode.StartAsync(bHome, $"B #{round + 2}", bListen, verbose: true);
                    nodes.Add(b);
                }
            }

            // After the last restart, sending simply works: every post of the last round is acknowledged.
            var final = await SendRoundAsync(a.Api, kills, index, FinalRound, burst: true, new AckCounter(FinalRound + 1)).WaitAsync(ChatProcess.Timeout);
            Assert.All(final, p => Assert.NotNull(p.Answer));
            posts.AddRange(final);
            var chaosEnded = clock.Elapsed;
            _output.WriteLine($"{posts.Count} posts, {posts.Count(p => p.Answer is not null)} acknowledged, {cutPosts} cut by kills; chaos ended at {chaosEnded.TotalSeconds:F1} s");

            // The kills landed inside the sending, as this test claims: some posts were in flight.
            Assert.True(cutPosts > 0, "no kill of A cut a post in flight");

            await Eventually.UntilAsync(
                "A's outbox empties",
                DeliveryDeadline,
                a.Api.OutboxAsync,
                count => count == 0,
                count => $"{count} queued\n{ChildProcess.Tail(a.Process.Transcript)}\n{ChildProcess.Tail(b.Process.Transcript)}");
            var atA = await Eventually.UntilAsync(
                "every message shows delivered on A",
                DeliveryDeadline,
                () => a.Api.ConversationAsync("B"),
                all => all.All(m => m.State is "delivered" or "read"),
                all => $"{all.Count} messages, states {string.Join(", ", all.GroupBy(m => m.State).Select(g => $"{g.Key} {g.Count()}"))}");
            _output.WriteLine($"all delivered at {clock.Elapsed.TotalSeconds:F1} s; A holds {atA.Count} of {posts.Count} posts");
            var atB = await b.Api.ConversationAsync("A");

            AssertDeliveredOnceInOrder(posts, atA, atB, identities[0].Id);

            // And from B's store on disk, with no node running.
            await b.StopAsync(bHome);
            var onDisk = await NodeCli.HistoryAsync(bHome, "A");
            Assert.Equal(atB.Select(m => (m.Id, m.Text)), onDisk.Select(m => (m.Id, m.Text)));
            foreach (var node in nodes)
            {
                node.Process.AssertNoStackTrace();
            }

            _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// What A holds is what B holds, once each and in the same order; every acknowledged post is
    /// among them with the ID its answer gave; a cut post is there at most once; rounds follow each
    /// other, and within a one-at-a-time round posts keep the order they were acknowledged in.
    /// </summary>
    private static void AssertDeliveredOnceInOrder(List<Post> posts, IReadOnlyList<ApiMessage> atA, IReadOnlyList<ApiMessage> atB, string senderId)
    {
        Assert.All(atA, m => Assert.Equal("out", m.Direction));
        Assert.All(atB, m => Assert.Equal(("in", senderId), (m.Direction, m.ContactId)));
        Assert.Equal(atB.Count, atB.Select(m => m.Id).Distinct().Count());
        Assert.Equal(atB.Count, atB.Select(m => m.Text).Distinct().Count());
        Assert.Equal(atA.Select(m => (m.Id, m.Text)), atB.Select(m => (m.Id, m.Text)));

        var byText = atB.Select((m, position) => (m, position)).ToDictionary(x => x.m.Text);
        var posted = posts.ToDictionary(p => p.Text);
        Assert.All(atB, m => Assert.True(posted.ContainsKey(m.Text), $"B holds {m.Text}, which was never posted"));
        foreach (var post in posts.Where(p => p.Answer is not null))
        {
            Assert.True(byText.TryGetValue(post.Text, out var found), $"{post.Text} was acknowledged ({post.Answer!.Id}) but never reached B");
            Assert.Equal(post.Answer!.Id, found.m.Id);
        }

        // Order: by round, and by index within a round of one-at-a-time posts.
        var order = atB.Select(m => posted[m.Text]).ToList();
        for (var i = 1; i < order.Count; i++)
        {
            var (before, after) = (order[i - 1], order[i]);
            Assert.True(before.Round <= after.Round, $"{after.Text} arrived after {before.Text}, from a later round");
            if (before.Round == after.Round && !before.Burst)
            {
                Assert.True(before.Index < after.Index, $"{after.Text} arrived after {before.Text}, posted later");
            }
        }
    }

    /// <summary>
    /// Posts the texts of one round to A until <paramref name="cap"/> or until a post fails (A was
    /// killed): one at a time, or with <see cref="BurstWindow"/> in flight. A post that fails with
    /// a connection error is recorded as cut (no answer); any other answer than 202 fails the test.
    /// </summary>
    private static async Task<List<Post>> SendRoundAsync(NodeApi api, int round, int firstIndex, int cap, bool burst, AckCounter acknowledged)
    {
        await Task.Yield();
        var results = new List<Post>();
        var inFlight = new List<Task<Post>>();
        var next = 0;
        var failed = false;
        var window = burst ? BurstWindow : 1;
        while (true)
        {
            while (!failed && next < cap && inFlight.Count < window)
            {
                inFlight.Add(PostAsync(api, round, firstIndex + next++, burst));
            }

            if (inFlight.Count == 0)
            {
                return [.. results.OrderBy(p => p.Index)];
            }

            var done = await Task.WhenAny(inFlight);
            inFlight.Remove(done);
            var post = await done;
            results.Add(post);
            if (post.Answer is null)
            {
                failed = true;
            }
            else
            {
                acknowledged.Add();
            }
        }
    }

    private static async Task<Post> PostAsync(NodeApi api, int round, int index, bool burst)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"r{round:D2} m{index:D4}");
        try
        {
            var answer = await api.SendAsync("B", text);
            if (answer.Text != text || (answer.Direction, answer.State) != ("out", "queued"))
            {
                throw new XunitException($"POST of {text} answered {answer}");
            }

            return new Post(round, index, burst, text, answer);
        }
        catch (HttpRequestException)
        {
            // The node died under the request: the message may or may not be stored.
            return new Post(round, index, burst, text, null);
        }
    }

    /// <summary>One post: its round and index, and the node's 202 answer, or null when the kill cut it.</summary>
    private sealed record Post(int Round, int Index, bool Burst, string Text, ApiMessage? Answer);

    /// <summary>Counts acknowledged posts of a round and signals when the count reaches a target.</summary>
    private sealed class AckCounter(int target)
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public Task Reached => _reached.Task;

        public void Add()
        {
            if (Interlocked.Increment(ref _count) >= target)
            {
                _reached.TrySetResult();
            }
        }
    }
}
