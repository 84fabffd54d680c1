using System.Diagnostics;
using System.Globalization;

namespace SecureChat.Bench.Wire;

/// <summary>
/// <c>connect_ms</c>: a node process starts — unlocks its identity, opens its store, listens,
/// dials a contact at a known endpoint — and its first message is delivered (acknowledged by the
/// contact). Each run is a fresh process, so the runtime's start and the JIT are in it as a
/// person sees them; the first run meets the contact, the rest know it.
/// </summary>
/// <remarks>
/// The two know each other as contacts before the first run, as two people who chat do. A
/// stranger's texts are held to the contact's request quota (its first five, then it is asked to
/// try again a minute later): one text a run from a stranger, the sixth run waited past the
/// drain's 30 s, which is the node doing what it should, not a connection that fails.
/// </remarks>
internal static class Connect
{
    public static async Task<IEnumerable<Figure>> RunAsync(int runs, TextWriter log)
    {
        await using var contact = ChildProcess.Start("node");
        var announced = await contact.ExpectAsync("node").ConfigureAwait(false);
        var home = Directory.CreateTempSubdirectory("securechat-bench-connect-").FullName;
        try
        {
            var (identity, dataKey) = Storage.IdentityFile.Create(home, "connector", [], protect: false, Crypto.Argon2idParameters.Default, DateTimeOffset.UtcNow);
            using (identity)
            using (dataKey)
            {
                await contact.SendAsync($"contact {identity.Account}").ConfigureAwait(false);
                _ = await contact.ExpectAsync("contact").ConfigureAwait(false);
            }

            var inNode = new List<double>();
            var inProcess = new List<double>();
            var cpu = new List<double>();
            double first = 0;
            for (var run = 0; run <= runs; run++)
            {
                var clock = Stopwatch.StartNew();
                await using var node = ChildProcess.Start("connect", home, announced[0], announced[1]);
                var result = await node.ExpectAsync("delivered").ConfigureAwait(false);
                var wall = clock.Elapsed.TotalMilliseconds;
                var ms = double.Parse(result[0], CultureInfo.InvariantCulture);
                var cpuMs = double.Parse(result[1], CultureInfo.InvariantCulture);
                log.WriteLine($"connect run {run}: {ms:F1} ms from the node's start to its first message delivered; {wall:F0} ms from spawning the process; {cpuMs:F0} ms of CPU");
                if (run == 0)
                {
                    first = ms;
                    continue;
                }

                inNode.Add(ms);
                inProcess.Add(wall);
                cpu.Add(cpuMs);
            }

            var note = $"median of {runs} fresh processes; the first meeting took {first:F0} ms";
            return
            [
                new Figure("connect_ms", Stats.Median(inNode), "ms", "from starting a node to its first message delivered to a contact at a known endpoint",
                    Target: "≤ 200", Note: note),
                new Figure("connect_process_ms", Stats.Median(inProcess), "ms", "the same, from spawning the process (the .NET runtime's own start included)", Note: note),
                new Figure("connect_cpu_ms", Stats.Median(cpu), "ms", "the CPU time (user and system) the node's process used until then: what a loaded machine does not inflate", Note: note),
            ];
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    /// <summary>The child: starts a node on <paramref name="directory"/>, sends one message, and says when it is delivered.</summary>
    public static async Task NodeAsync(string directory, string account, string port)
    {
        var stages = new Stages();
        var home = BenchHome.Open(directory, stages);
        await using (home.ConfigureAwait(false))
        {
            var peer = Messaging.AccountIdOf(account);
            var contact = home.Store.Contacts.Find(peer) ?? home.Node.AddContact(peer, "contact", $"127.0.0.1:{port}");
            home.Node.Send(contact, "hello");
            stages.Mark("message queued");
            await home.WaitOnlineAsync(contact, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            stages.Mark("online");
            await home.DrainAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var delivered = stages.Mark("delivered");
            var cpu = Stages.CpuMilliseconds;
            await Console.Error.WriteLineAsync($"  connect stages: {stages}; CPU {cpu:F0} ms").ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"delivered {delivered:F1} {cpu:F1}"));
        }
    }
}
