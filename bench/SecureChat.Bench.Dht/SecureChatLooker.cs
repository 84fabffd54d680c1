using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Bench.Dht;

/// <summary>
/// The child <c>--role looker --bind ADDRESS --bootstrap HOST:PORT…</c>: a fresh SecureChat DHT node
/// with default options on its own loopback address, driven as lt_get.py is (see its docstring):
/// <c>warm</c> joins (a lookup of its own ID through the bootstrap nodes) and then gets each target;
/// <c>get</c> times one BEP 44 mutable get from the call until <see cref="DhtNode.GetMutable"/>
/// completes — the end of the lookup, when the 8 closest nodes have answered, which is when
/// libtorrent posts its authoritative alert.
/// </summary>
internal static class SecureChatLooker
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(15);

    public static async Task<int> RunAsync(string[] args)
    {
        IPAddress? bind = null;
        var bootstrap = new List<IPEndPoint>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--bind":
                    bind = IPAddress.Parse(args[i + 1]);
                    break;
                case "--bootstrap":
                    bootstrap.Add(IPEndPoint.Parse(args[i + 1]));
                    break;
                default:
                    throw new ArgumentException($"looker: unknown option {args[i]}", nameof(args));
            }
        }

        if (bind is null || !IPAddress.IsLoopback(bind) || bootstrap.Any(b => !IPAddress.IsLoopback(b.Address)))
        {
            await Console.Error.WriteLineAsync("looker: --bind and every --bootstrap must be loopback addresses");
            return 2;
        }

        // Whatever happens to the driver, this process ends: at the end of its standard input, or at the latest after Lifetime.
        using var lifetime = new Timer(_ => Environment.Exit(3), null, Lifetime, Timeout.InfiniteTimeSpan);
        await using var host = DhtHost.Start(new IPEndPoint(bind, 0), new DhtOptions(), NullLogger.Instance);
        Reply(new JsonObject { ["ok"] = true, ["port"] = host.LocalEndPoint.Port });
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var command = JsonNode.Parse(line)!.AsObject();
            var op = command["op"]?.GetValue<string>();
            var timeout = TimeSpan.FromSeconds(Math.Min(command["timeout"]?.GetValue<double>() ?? 30, 120));
            try
            {
                Reply(op switch
                {
                    "warm" => await WarmAsync(host, bootstrap, command, timeout),
                    "get" => await GetAsync(host, command, timeout),
                    "quit" => new JsonObject { ["ok"] = true },
                    _ => new JsonObject { ["ok"] = false, ["error"] = $"unknown op {op}" },
                });
            }
            catch (TimeoutException)
            {
                Reply(new JsonObject { ["ok"] = false, ["error"] = $"{op} took longer than {timeout.TotalSeconds} s" });
            }

            if (op == "quit")
            {
                break;
            }
        }

        return 0;
    }

    private static async Task<JsonObject> WarmAsync(DhtHost host, List<IPEndPoint> bootstrap, JsonObject command, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var joined = await host.Call(n => n.Bootstrap(bootstrap)).WaitAsync(timeout);
        if (joined.Closest.Count == 0)
        {
            return new JsonObject { ["ok"] = false, ["error"] = "no swarm node answered" };
        }

        foreach (var target in command["targets"]?.AsArray() ?? [])
        {
            var id = NodeId.FromBytes(Convert.FromHexString(target!.GetValue<string>()));
            await host.Call(n => n.GetImmutable(id)).WaitAsync(timeout - clock.Elapsed);
        }

        return new JsonObject { ["ok"] = true, ["nodes"] = host.Call(n => n.Routing.Count) };
    }

    private static async Task<JsonObject> GetAsync(DhtHost host, JsonObject command, TimeSpan timeout)
    {
        var publicKey = Convert.FromHexString(command["pubkey"]!.GetValue<string>());
        var salt = Convert.FromHexString(command["salt"]?.GetValue<string>() ?? "");
        var expected = command["seq"]!.GetValue<long>();
        var clock = Stopwatch.StartNew();
        var result = await host.Call(n => n.GetMutable(publicKey, salt)).WaitAsync(timeout);
        var ms = clock.Elapsed.TotalMilliseconds;
        return new JsonObject
        {
            ["ok"] = true,
            ["found"] = result.Item?.Sequence == expected,
            ["seq"] = result.Item?.Sequence ?? 0,
            ["ms"] = ms,
            ["queries"] = result.Queries,
            ["hops"] = result.Hops,
        };
    }

    private static void Reply(JsonObject reply)
    {
        Console.Out.WriteLine(reply.ToJsonString());
        Console.Out.Flush();
    }
}
