using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using SecureChat.Crypto;
using SecureChat.Dht;
using SecureChat.Net;
using SecureChat.Net.Dht;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat dht …</c>: a toolbox on the Mainline DHT. Each command starts a short-lived
/// read-only node (BEP 43: it asks, and answers no one), joins through the bootstrap nodes, does
/// one thing and prints the answer on stdout. Values are stored as bencoded byte strings of the
/// UTF-8 text given.
/// </summary>
internal sealed class DhtCommands(IReadOnlyList<string> bootstrap, int port, int timeoutSeconds, ILogger logger)
{
    public async Task<int> PingAsync(string address, CancellationToken cancellationToken)
    {
        var target = (await DhtHost.ResolveAsync([address], logger, cancellationToken)).FirstOrDefault()
            ?? throw new NetworkException(NetworkError.HostNotFound, $"'{address}' could not be resolved.");
        await using var host = await StartAsync(join: false, cancellationToken);
        var clock = Stopwatch.StartNew();
        var id = await WithTimeout(host.Call(node => node.Ping(target)), cancellationToken);
        if (id is null)
        {
            await Console.Error.WriteLineAsync($"securechat: {target} did not answer the ping.");
            return ExitCodes.Failure;
        }

        Console.WriteLine($"{id} {target} {clock.Elapsed.TotalMilliseconds:F1} ms");
        return ExitCodes.Ok;
    }

    public async Task<int> GetPeersAsync(string infoHash, CancellationToken cancellationToken)
    {
        var hash = ParseId(infoHash, "INFOHASH");
        await using var host = await StartAsync(join: true, cancellationToken);
        var result = await WithTimeout(host.Call(node => node.GetPeers(hash)), cancellationToken);
        Report(result);
        foreach (var peer in result.Peers)
        {
            Console.WriteLine(peer);
        }

        return result.Peers.Count > 0 ? ExitCodes.Ok : NotFound("no peers were found for " + hash);
    }

    public async Task<int> AnnounceAsync(string infoHash, int peerPort, CancellationToken cancellationToken)
    {
        var hash = ParseId(infoHash, "INFOHASH");
        if (peerPort is < 0 or > 65535)
        {
            throw new UsageException("--peer-port is a port number, 0 to 65535.");
        }

        await using var host = await StartAsync(join: true, cancellationToken);
        var result = await WithTimeout(host.Call(node => node.Announce(hash, peerPort)), cancellationToken);
        return Stored(result, hash.ToString());
    }

    public async Task<int> PutAsync(string keyFile, string? salt, long? sequence, string value, CancellationToken cancellationToken)
    {
        using var seed = ReadKeyFile(keyFile);
        var saltBytes = SaltOf(salt);
        var encoded = EncodeValue(value);
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(seed.Span, publicKey);
        await using var host = await StartAsync(join: true, cancellationToken);
        if (sequence is null)
        {
            // Without --seq, the next sequence number after the one stored now (BEP 44's usual read-modify-write).
            var current = await WithTimeout(host.Call(node => node.GetMutable(publicKey, saltBytes)), cancellationToken);
            sequence = current.Item is { } item ? item.Sequence + 1 : 1;
        }

        var signed = DhtItem.Sign(seed.Span, encoded, saltBytes, sequence.Value);
        var result = await WithTimeout(host.Call(node => node.Put(signed)), cancellationToken);
        return Stored(result, Convert.ToHexStringLower(publicKey));
    }

    public async Task<int> GetAsync(string publicKeyHex, string? salt, CancellationToken cancellationToken)
    {
        var publicKey = ParseHex(publicKeyHex, Ed25519.PublicKeySize, "PUBKEY");
        var saltBytes = SaltOf(salt);
        await using var host = await StartAsync(join: true, cancellationToken);
        var result = await WithTimeout(host.Call(node => node.GetMutable(publicKey, saltBytes)), cancellationToken);
        Report(result);
        if (result.Item is not { } item)
        {
            return NotFound($"no item signed by {publicKeyHex.ToLowerInvariant()}{(salt is null ? string.Empty : $" with salt '{salt}'")} was found");
        }

        logger.LogInformation("Sequence number {Sequence}", item.Sequence);
        Console.WriteLine(DecodeValue(item.Value));
        return ExitCodes.Ok;
    }

    public async Task<int> PutImmutableAsync(string value, CancellationToken cancellationToken)
    {
        var item = DhtItem.Immutable(EncodeValue(value))!;
        await using var host = await StartAsync(join: true, cancellationToken);
        var result = await WithTimeout(host.Call(node => node.Put(item)), cancellationToken);
        return Stored(result, item.Target.ToString());
    }

    public async Task<int> GetImmutableAsync(string targetHex, CancellationToken cancellationToken)
    {
        var target = ParseId(targetHex, "TARGET");
        await using var host = await StartAsync(join: true, cancellationToken);
        var result = await WithTimeout(host.Call(node => node.GetImmutable(target)), cancellationToken);
        Report(result);
        if (result.Item is not { } item)
        {
            return NotFound($"no item with target {target} was found");
        }

        Console.WriteLine(DecodeValue(item.Value));
        return ExitCodes.Ok;
    }

    /// <summary>Reads an Ed25519 seed: 32 raw bytes, or 64 hexadecimal characters (white space around them is ignored).</summary>
    internal static SecretBytes ReadKeyFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"The key file '{path}' could not be read: {ex.Message}");
        }

        try
        {
            if (bytes.Length == Ed25519.PrivateKeySize)
            {
                return new SecretBytes(bytes);
            }

            // The hex form is decoded from the bytes themselves: the seed never passes through a string.
            var hex = bytes.AsSpan().Trim(" \t\r\n"u8);
            if (hex.Length == Ed25519.PrivateKeySize * 2)
            {
                var seed = new byte[Ed25519.PrivateKeySize];
                var status = Convert.FromHexString(hex, seed, out _, out var written);
                if (status == System.Buffers.OperationStatus.Done && written == seed.Length)
                {
                    return SecretBytes.Adopt(seed);
                }

                Array.Clear(seed);
            }

            throw new UsageException($"The key file '{path}' must hold an Ed25519 seed: 32 raw bytes or 64 hexadecimal characters ({bytes.Length} bytes found).");
        }
        finally
        {
            Array.Clear(bytes);
        }
    }

    private async Task<DhtHost> StartAsync(bool join, CancellationToken cancellationToken)
    {
        var nodes = await DhtHost.ResolveAsync(bootstrap.Count > 0 ? bootstrap : DhtHost.PublicRouters, logger, cancellationToken);
        if (join && nodes.Count == 0)
        {
            throw new NetworkException(NetworkError.HostNotFound, "No DHT bootstrap node could be resolved: give one with --bootstrap HOST:PORT.");
        }

        var host = DhtHost.Start(new IPEndPoint(IPAddress.Any, port), new DhtOptions { ReadOnly = true }, logger);
        if (!join)
        {
            return host;
        }

        try
        {
            var joined = await WithTimeout(host.Call(node => node.Bootstrap(nodes)), cancellationToken);
            if (joined.Closest.Count == 0)
            {
                throw new NetworkException(NetworkError.Unreachable, $"No DHT node answered (asked {string.Join(", ", nodes)}).");
            }

            logger.LogInformation("Joined the DHT: {Count} nodes answered", joined.Closest.Count);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    private async Task<T> WithTimeout<T>(Task<T> task, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(timeoutSeconds), cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new NetworkException(NetworkError.ConnectTimeout, $"The DHT did not answer within {timeoutSeconds} s.");
        }
    }

    private void Report(LookupResult result) =>
        logger.LogInformation("{Queries} queries, {Hops} hops, {Closest} closest nodes answered", result.Queries, result.Hops, result.Closest.Count);

    private int Stored(StoreResult result, string output)
    {
        foreach (var error in result.Errors)
        {
            logger.LogInformation("Not stored: {Error}", error);
        }

        if (result.Accepted == 0)
        {
            Console.Error.WriteLine($"securechat: no DHT node took it ({result.Errors.FirstOrDefault() ?? "none asked"}).");
            return ExitCodes.Failure;
        }

        Console.WriteLine(output);
        Console.Error.WriteLine($"stored on {result.Accepted} of {result.Asked} nodes");
        return ExitCodes.Ok;
    }

    private static int NotFound(string what)
    {
        Console.Error.WriteLine($"securechat: {what}.");
        return ExitCodes.Failure;
    }

    private static NodeId ParseId(string text, string name) =>
        NodeId.TryParseHex(text?.Trim(), out var id) ? id : throw new UsageException($"{name} is 40 hexadecimal characters (20 bytes); got '{text}'.");

    private static byte[] ParseHex(string text, int size, string name)
    {
        text = text?.Trim() ?? string.Empty;
        if (text.Length != size * 2 || !text.All(Uri.IsHexDigit))
        {
            throw new UsageException($"{name} is {size * 2} hexadecimal characters ({size} bytes); got '{text}'.");
        }

        return Convert.FromHexString(text);
    }

    private static byte[] SaltOf(string? salt)
    {
        var bytes = salt is null ? [] : Encoding.UTF8.GetBytes(salt);
        return bytes.Length <= DhtItem.MaxSaltSize ? bytes : throw new UsageException($"--salt is at most {DhtItem.MaxSaltSize} bytes; '{salt}' has {bytes.Length}.");
    }

    private static byte[] EncodeValue(string value)
    {
        var encoded = BString.Of(value).Encode();
        return encoded.Length <= DhtItem.MaxValueSize
            ? encoded
            : throw new UsageException($"A DHT value is at most {DhtItem.MaxValueSize} bytes bencoded; this one is {encoded.Length}.");
    }

    /// <summary>A byte-string value as its text; any other bencoded value as its encoding.</summary>
    private static string DecodeValue(byte[] encoded) => Bencode.TryDecode(encoded) switch
    {
        BString s => Encoding.UTF8.GetString(s.Value),
        _ => Encoding.UTF8.GetString(encoded),
    };
}
