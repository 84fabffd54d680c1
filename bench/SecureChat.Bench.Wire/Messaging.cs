using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SecureChat.Node;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Bench.Wire;

/// <summary>
/// <c>msgs_per_s</c> and <c>latency_p50_us</c>/<c>latency_p99_us</c>: 200-byte chat messages
/// from a node in this process to a node in a child process, through the whole path — outbox on
/// disk, ratchet, channel, decryption, storage at the receiver, acknowledgement back.
/// </summary>
internal static class Messaging
{
    public const int TextBytes = 200;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    public static async Task<IEnumerable<Figure>> RunAsync(int messages, int paced, TextWriter log)
    {
        await using var receiver = ChildProcess.Start("node");
        var announced = await receiver.ExpectAsync("node").ConfigureAwait(false);
        await using var sender = BenchHome.Create("sender");
        // Each knows the other as a contact, as two people who chat do: a stranger's texts wait
        // as a request, a few at a time, until the person accepts it.
        await receiver.SendAsync($"contact {sender.Identity.Account}").ConfigureAwait(false);
        _ = await receiver.ExpectAsync("contact").ConfigureAwait(false);
        var contact = sender.Node.AddContact(AccountIdOf(announced[0]), "receiver", $"127.0.0.1:{announced[1]}");
        await sender.WaitOnlineAsync(contact, TimeSpan.FromSeconds(30)).ConfigureAwait(false);

        // Warm-up: the JIT, SQLite's caches and the first ratchet steps, outside the measurement.
        await BurstAsync(sender, contact, Math.Min(messages / 10, 2_000)).ConfigureAwait(false);
        (TimeSpan Queueing, TimeSpan Total) burst;
        var profiling = Profiler.Start("burst", ("sender", Environment.ProcessId), ("receiver", receiver.Id));
        await using (profiling.ConfigureAwait(false))
        {
            burst = await BurstAsync(sender, contact, messages).ConfigureAwait(false);
        }

        var (queueing, total) = burst;
        var rate = messages / total.TotalSeconds;
        log.WriteLine($"throughput: {messages:N0} messages in {total.TotalMilliseconds:F0} ms ({rate:N0}/s); all on disk in the outbox after {queueing.TotalMilliseconds:F0} ms");

        _ = await receiver.AskAsync("latency").ConfigureAwait(false);
        // The sender's own stages, for the log: queued on disk, and marked sent (encrypted, its
        // ratchet state on disk, handed to the connection).
        var pacedSends = new Task[paced];
        var queuedAt = new double[paced];
        var sentAt = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var watching = new CancellationTokenSource();
        var events = sender.Node.Events.Subscribe(watching.Token);
        var watcher = Task.Run(async () =>
        {
            await foreach (var e in events.ReadAllAsync())
            {
                if (e is MessageStateChanged { State: MessageState.Sent } changed)
                {
                    sentAt[changed.MessageId] = Stopwatch.GetTimestamp();
                }
            }
        });
        profiling = Profiler.Start("paced", ("sender", Environment.ProcessId), ("receiver", receiver.Id));
        await using (profiling.ConfigureAwait(false))
        {
            await PaceAsync(paced, 1_000, i =>
            {
                var start = Stopwatch.GetTimestamp();
                pacedSends[i] = sender.Node.SendAsync(contact, Text(i, start)).ContinueWith(
                    t => { queuedAt[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds; return t.Result; }, TaskScheduler.Default);
            }).ConfigureAwait(false);
            await Task.WhenAll(pacedSends).ConfigureAwait(false);
            await sender.DrainAsync(Patience).ConfigureAwait(false);
        }

        await watching.CancelAsync().ConfigureAwait(false);
        await watcher.ConfigureAwait(false);
        var toSent = pacedSends.Cast<Task<StoredMessage>>()
            .Where(t => sentAt.ContainsKey(t.Result.MessageId))
            .Select(t => Stopwatch.GetElapsedTime(SentAt(t.Result.Text), sentAt[t.Result.MessageId]).TotalMicroseconds).ToList();
        log.WriteLine($"latency at the sender: on disk p50 {Stats.Median(queuedAt):F0} µs, p99 {Stats.Percentile(queuedAt, 99):F0} µs; sent p50 {Stats.Median(toSent):F0} µs, p99 {Stats.Percentile(toSent, 99):F0} µs");
        var latency = await receiver.AskAsync("latency").ConfigureAwait(false);
        var stored = long.Parse((await receiver.AskAsync("count").ConfigureAwait(false))[0], CultureInfo.InvariantCulture);
        var expected = messages + Math.Min(messages / 10, 2_000) + paced;
        if (stored != expected)
        {
            throw new InvalidOperationException($"The receiver stored {stored:N0} messages, not {expected:N0}.");
        }

        var tcp = await TcpLatencyAsync(paced).ConfigureAwait(false);
        var sync = DiskSync.Measure(Path.GetTempPath(), quick: paced < 5_000);
        var note = $"{paced:N0} messages at 1,000/s; one-way, on the clock both processes share";
        return
        [
            new Figure("msgs_per_s", rate, "msg/s", "200-byte messages end to end through two nodes (outbox, ratchet, storage on both sides, acks)",
                Target: "≥ 30000", Note: $"{messages:N0} messages, acknowledged"),
            new Figure("latency_p50_us", Micros(latency[1]), "µs", "send → stored at the receiver, median, at 1,000 messages/s",
                Target: "≤ 500", BaselineKey: "latency_tcp_p50_us", Baseline: tcp.P50, BaselineUnit: "µs", BaselineWhat: "raw TCP one-way, same pacing, same processes", Note: note),
            new Figure("latency_p99_us", Micros(latency[2]), "µs", "send → stored at the receiver, 99th percentile, at 1,000 messages/s",
                Target: "≤ 2000", BaselineKey: "latency_tcp_p99_us", Baseline: tcp.P99, BaselineUnit: "µs", BaselineWhat: "raw TCP one-way, 99th percentile", Note: note),
            new Figure("disk_sync_p50_us", sync.P50, "µs", "one durable write on this disk (a 4 KiB write and fdatasync), median: each of the three on a message's way is at least this",
                BaselineKey: "disk_sync_p99_us", Baseline: sync.P99, BaselineUnit: "µs", BaselineWhat: "the same, 99th percentile", Note: $"{sync.Count} writes in {Path.GetTempPath()}"),
        ];
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages at once, as concurrent callers of the local API do
    /// (ChatNode.SendAsync, whose writes share transactions), and waits until every one is acknowledged.
    /// </summary>
    private static async Task<(TimeSpan Queueing, TimeSpan Total)> BurstAsync(BenchHome sender, Contact contact, int count)
    {
        var clock = Stopwatch.StartNew();
        var sends = new Task[count];
        for (var i = 0; i < count; i++)
        {
            sends[i] = sender.Node.SendAsync(contact, Text(i, 0));
        }

        await Task.WhenAll(sends).ConfigureAwait(false);
        var queueing = clock.Elapsed;
        await sender.DrainAsync(Patience, pollMilliseconds: 5).ConfigureAwait(false);
        return (queueing, clock.Elapsed);
    }

    /// <summary>
    /// Calls <paramref name="send"/> <paramref name="count"/> times at <paramref name="perSecond"/>,
    /// on a thread of its own: each call at its due time, or at once when late (the sleeps last a
    /// millisecond or a little more, so at 1,000/s some calls come in pairs).
    /// </summary>
    public static Task PaceAsync(int count, int perSecond, Action<int> send) => Task.Factory.StartNew(
        () =>
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                var due = start + (long)i * Stopwatch.Frequency / perSecond;
                // Sleeping, never spinning: a spin would take one of the two cores from the nodes.
                // A message sent late carries the time it was really sent.
                while (Stopwatch.GetTimestamp() < due)
                {
                    Thread.Sleep(1);
                }

                send(i);
            }
        },
        CancellationToken.None,
        TaskCreationOptions.LongRunning,
        TaskScheduler.Default);

    /// <summary>A 200-byte text that carries its send time (a <see cref="Stopwatch"/> timestamp, shared by every process here) first.</summary>
    public static string Text(int i, long timestamp)
    {
        var head = string.Create(CultureInfo.InvariantCulture, $"t={timestamp};n={i};");
        return head + new string('x', TextBytes - head.Length);
    }

    /// <summary>The send time a text from <see cref="Text"/> carries; 0 when it carries none.</summary>
    public static long SentAt(string text) =>
        text.StartsWith("t=", StringComparison.Ordinal) && long.TryParse(text.AsSpan(2, text.IndexOf(';', StringComparison.Ordinal) - 2), CultureInfo.InvariantCulture, out var t) ? t : 0;

    /// <summary>The child's side: a node that stores what arrives and times each paced message.</summary>
    public static async Task ReceiverAsync()
    {
        await using var home = BenchHome.Create("receiver");
        using var stop = new CancellationTokenSource();
        var events = home.Node.Events.Subscribe(stop.Token);
        var latencies = new List<double>();
        var reader = Task.Run(async () =>
        {
            await foreach (var nodeEvent in events.ReadAllAsync())
            {
                if (nodeEvent is MessageStored { Message: { Outgoing: false } message } && SentAt(message.Text) is > 0 and var sent)
                {
                    var micros = (Stopwatch.GetTimestamp() - sent) * 1e6 / Stopwatch.Frequency;
                    lock (latencies)
                    {
                        latencies.Add(micros);
                    }
                }
            }
        });
        Console.WriteLine($"node {home.Identity.Account} {home.Port}");

        // Standard input is read on a thread of its own: Console.In blocks, and a blocked
        // thread-pool thread would leave the node one worker short on a 2-core machine.
        await Task.Factory.StartNew(() => Answer(home, latencies), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await reader.ConfigureAwait(false);
    }

    private static void Answer(BenchHome home, List<double> latencies)
    {
        while (Console.ReadLine() is { } command)
        {
            switch (command)
            {
                case "latency":
                    lock (latencies)
                    {
                        Console.WriteLine(latencies.Count == 0
                            ? "latency 0 0 0"
                            : string.Create(CultureInfo.InvariantCulture, $"latency {latencies.Count} {Stats.Median(latencies):F1} {Stats.Percentile(latencies, 99):F1}"));
                        latencies.Clear();
                    }

                    break;
                case var _ when command.StartsWith("contact ", StringComparison.Ordinal):
                    home.Node.AddContact(AccountIdOf(command["contact ".Length..]), "sender", endpoint: null);
                    Console.WriteLine("contact added");
                    break;
                case "count":
                    Console.WriteLine($"count {home.Store.Contacts.All.Sum(home.Store.Messages.Count)}");
                    break;
                default:
                    Console.Error.WriteLine($"unknown command: {command}");
                    break;
            }
        }
    }

    /// <summary>The baseline: the same pacing and size over a raw TCP socket to a child that times each record's arrival.</summary>
    private static async Task<(double P50, double P99)> TcpLatencyAsync(int count)
    {
        await using var sink = ChildProcess.Start("sink-latency");
        var port = int.Parse((await sink.ExpectAsync("listening").ConfigureAwait(false))[0], CultureInfo.InvariantCulture);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        var record = new byte[TextBytes];
        await PaceAsync(count, 1_000, _ =>
        {
            BinaryPrimitives.WriteInt64LittleEndian(record, Stopwatch.GetTimestamp());
            socket.Send(record);
        }).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
        var result = await sink.ExpectAsync("latency").ConfigureAwait(false);
        return (Micros(result[1]), Micros(result[2]));
    }

    /// <summary>The child's side of the baseline: reads fixed-size records and times each against the stamp it carries.</summary>
    public static async Task SinkLatencyAsync()
    {
        using var socket = await Bulk.AcceptOneAsync().ConfigureAwait(false);
        var latencies = new List<double>();
        var record = new byte[TextBytes];
        while (true)
        {
            var filled = 0;
            while (filled < record.Length)
            {
                var n = await socket.ReceiveAsync(record.AsMemory(filled)).ConfigureAwait(false);
                if (n == 0)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"latency {latencies.Count} {Stats.Median(latencies):F1} {Stats.Percentile(latencies, 99):F1}"));
                    return;
                }

                filled += n;
            }

            latencies.Add((Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(record)) * 1e6 / Stopwatch.Frequency);
        }
    }

    public static AccountId AccountIdOf(string text) =>
        AccountId.TryParse(text, out var id) ? id : throw new FormatException($"'{text}' is not an account ID.");

    private static double Micros(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}
