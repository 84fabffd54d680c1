using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SecureChat.Crypto;
using SecureChat.Protocol.Noise;
using SecureChat.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Protocol.Tests.Interop;

/// <summary>
/// Our Noise engine against a third-party implementation, the npm package noise-protocol, run as
/// a child process (tests/interop/noise/peer.js) and spoken to over its stdin and stdout with
/// SecureChat's TCP framing: a 2-byte big-endian length, then one Noise message. The session
/// peer.js plays is described at the top of that file; the constants below mirror its own.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class NoiseProtocolNpmInteropTests(ITestOutputHelper output)
{
    private const string ProtocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
    private const int XxMessageCount = 3;
    private const int HandshakeHashLength = 64; // BLAKE2b's HASHLEN (Noise spec 12.8).
    private const int TagLength = 16; // ChaChaPoly's tag (Noise spec 12.3).
    private const string Prologue = "SecureChat interop";
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);

    private static readonly byte[] EchoPrefix = "echo:"u8.ToArray();

    private static readonly byte[][] NpmOwnMessages =
    [
        "hello from noise-protocol"u8.ToArray(),
        [],
        [.. Enumerable.Range(0, 60000).Select(i => (byte)(i % 251))],
    ];

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    [Fact]
    public Task OurInitiator_NpmResponder_HandshakeAndTransportAgree() => RunSessionAsync(weInitiate: true);

    [Fact]
    public Task NpmInitiator_OurResponder_HandshakeAndTransportAgree() => RunSessionAsync(weInitiate: false);

    private async Task RunSessionAsync(bool weInitiate)
    {
        using var timeout = new CancellationTokenSource(SessionTimeout);
        var ct = timeout.Token;
        var ourPrivateKey = new byte[X25519.KeySize];
        var ourPublicKey = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(ourPrivateKey, ourPublicKey);

        await using var peer = NpmPeer.Start(weInitiate ? "responder" : "initiator", Prologue);
        using var killOnTimeout = ct.Register(peer.Kill);
        try
        {
            using var handshake = new HandshakeState(
                NoiseProtocol.Parse(ProtocolName),
                weInitiate,
                Encoding.UTF8.GetBytes(Prologue),
                localStaticPrivateKey: ourPrivateKey);
            CryptographicOperations.ZeroMemory(ourPrivateKey);

            var messageNumber = 0;
            while (!handshake.IsHandshakeComplete)
            {
                messageNumber++;
                Assert.True(messageNumber <= XxMessageCount, $"the handshake is not complete after {XxMessageCount} messages");
                if (handshake.IsMyTurnToWrite)
                {
                    var payload = OurHandshakePayload(messageNumber);
                    var message = new byte[handshake.GetMaxMessageLength(payload.Length)];
                    var length = handshake.WriteMessage(payload, message);
                    await peer.SendAsync(message.AsMemory(0, length), ct);
                }
                else
                {
                    var message = await peer.ReceiveAsync($"handshake message {messageNumber}", ct);
                    var payload = new byte[message.Length];
                    Assert.Equal(NoiseReadResult.Ok, handshake.ReadMessage(message, payload, out var payloadLength));
                    Assert.Equal(NpmHandshakePayload(messageNumber), payload[..payloadLength]);
                }
            }

            Assert.Equal(XxMessageCount, messageNumber);
            var ourHandshakeHash = handshake.HandshakeHash.ToArray();
            var npmStaticKeySeenByUs = handshake.RemoteStaticPublicKey.ToArray();
            using var transport = handshake.Split();

            foreach (var expected in NpmOwnMessages)
            {
                var message = await peer.ReceiveAsync("a transport message of its own", ct);
                Assert.Equal(expected, Decrypt(transport.Receive, message));
            }

            byte[][] ourMessages = ["hello from SecureChat"u8.ToArray(), [], RandomNumberGenerator.GetBytes(60 * 1024)];
            foreach (var plaintext in ourMessages)
            {
                await peer.SendAsync(Encrypt(transport.Send, plaintext), ct);
                var echo = await peer.ReceiveAsync($"the echo of a {plaintext.Length}-byte message", ct);
                Assert.Equal(EchoPrefix.Concat(plaintext).ToArray(), Decrypt(transport.Receive, echo));
            }

            peer.EndInput();
            var report = JsonSerializer.Deserialize<NpmPeerReport>(
                Decrypt(transport.Receive, await peer.ReceiveAsync("its report", ct)), ReportJson);
            Assert.NotNull(report);
            Assert.Null(await peer.TryReceiveAsync(ct));
            Assert.Equal(0, await peer.WaitForExitAsync(ct));

            Assert.Equal(HandshakeHashLength, ourHandshakeHash.Length);
            Assert.Equal(ourHandshakeHash, Convert.FromHexString(report.HandshakeHash));
            Assert.Equal(ourPublicKey, Convert.FromHexString(report.RemoteStaticPublicKey));
            Assert.Equal(Convert.FromHexString(report.LocalStaticPublicKey), npmStaticKeySeenByUs);
            var ourPayloadNumbers = Enumerable.Range(1, XxMessageCount).Where(n => n % 2 == 1 == weInitiate);
            Assert.Equal(
                ourPayloadNumbers.Select(n => Convert.ToHexStringLower(OurHandshakePayload(n))),
                report.ReceivedHandshakePayloads);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ourPrivateKey);
            output.WriteLine($"peer.js stderr:{Environment.NewLine}{peer.Diagnostics}");
        }
    }

    private static byte[] OurHandshakePayload(int messageNumber) =>
        Encoding.UTF8.GetBytes($"SecureChat handshake payload {messageNumber}");

    private static byte[] NpmHandshakePayload(int messageNumber) =>
        Encoding.UTF8.GetBytes($"noise-protocol handshake payload {messageNumber}");

    // The transport uses no associated data, as peer.js does (Noise spec 5.2 leaves it to the application).
    private static byte[] Encrypt(CipherState cipher, byte[] plaintext)
    {
        var ciphertext = new byte[plaintext.Length + TagLength];
        Assert.Equal(ciphertext.Length, cipher.Encrypt([], plaintext, ciphertext));
        return ciphertext;
    }

    private static byte[] Decrypt(CipherState cipher, byte[] ciphertext)
    {
        Assert.True(ciphertext.Length >= TagLength, $"a {ciphertext.Length}-byte transport message is shorter than its tag");
        var plaintext = new byte[ciphertext.Length - TagLength];
        Assert.True(cipher.TryDecrypt([], ciphertext, plaintext, out var written), "a transport message from peer.js did not authenticate");
        return plaintext[..written];
    }

    /// <summary>What peer.js saw of the handshake, sent as its last transport message (hex strings).</summary>
    private sealed record NpmPeerReport(
        string HandshakeHash,
        string LocalStaticPublicKey,
        string RemoteStaticPublicKey,
        string[] ReceivedHandshakePayloads);

    /// <summary><c>node peer.js</c> as a child process, with Noise messages framed on its stdin and stdout.</summary>
    private sealed class NpmPeer : IAsyncDisposable
    {
        private readonly Process process;
        private readonly StringBuilder stderr = new();

        private NpmPeer(Process process) => this.process = process;

        public string Diagnostics
        {
            get
            {
                lock (stderr)
                {
                    return stderr.ToString();
                }
            }
        }

        public static NpmPeer Start(string role, string prologue)
        {
            var directory = Path.Combine(RepoPaths.Root, "tests", "interop", "noise");
            if (!File.Exists(Path.Combine(directory, "node_modules", "noise-protocol", "package.json")))
            {
                Assert.Fail($"The npm package noise-protocol is not installed in {directory}/node_modules: run ./test, which installs it.");
            }

            var startInfo = new ProcessStartInfo("node")
            {
                WorkingDirectory = directory,
                ArgumentList = { Path.Combine(directory, "peer.js"), role, prologue },
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
                UseShellExecute = false,
            };
            var peer = new NpmPeer(new Process { StartInfo = startInfo });
            peer.process.ErrorDataReceived += (_, e) =>
            {
                lock (peer.stderr)
                {
                    peer.stderr.AppendLine(e.Data);
                }
            };
            try
            {
                peer.process.Start();
            }
            catch (Win32Exception e)
            {
                peer.process.Dispose();
                Assert.Fail($"Node.js could not be started ({e.Message}): run ./test, which installs it.");
            }

            peer.process.BeginErrorReadLine();
            return peer;
        }

        public async Task SendAsync(ReadOnlyMemory<byte> message, CancellationToken ct)
        {
            var frame = new byte[2 + message.Length];
            BinaryPrimitives.WriteUInt16BigEndian(frame, checked((ushort)message.Length));
            message.CopyTo(frame.AsMemory(2));
            var input = process.StandardInput.BaseStream;
            await input.WriteAsync(frame, ct);
            await input.FlushAsync(ct);
        }

        /// <summary>The next message; fails the test if peer.js ended its output instead.</summary>
        public async Task<byte[]> ReceiveAsync(string expected, CancellationToken ct)
        {
            try
            {
                return await TryReceiveAsync(ct) ?? throw new XunitException($"peer.js ended its output before sending {expected}.");
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw new XunitException($"peer.js did not send {expected} within {SessionTimeout.TotalSeconds} s.");
            }
        }

        /// <summary>The next message, or null at a clean end of output.</summary>
        public async Task<byte[]?> TryReceiveAsync(CancellationToken ct)
        {
            var output = process.StandardOutput.BaseStream;
            var header = new byte[2];
            var read = await output.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct);
            ct.ThrowIfCancellationRequested(); // a timeout kills peer.js, which ends its output
            if (read == 0)
            {
                return null;
            }

            Assert.True(read == header.Length, "peer.js ended its output inside a frame header");
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(header)];
            await output.ReadExactlyAsync(message, ct);
            return message;
        }

        /// <summary>Closes peer.js's stdin: the clean end of input after which it reports and exits.</summary>
        public void EndInput() => process.StandardInput.Close();

        public async Task<int> WaitForExitAsync(CancellationToken ct)
        {
            await process.WaitForExitAsync(ct);
            return process.ExitCode;
        }

        /// <summary>Ends peer.js if it still runs; it may also run from the timeout's callback, so it never throws.</summary>
        public void Kill()
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // The process has already exited: nothing is left to end.
            }
        }

        public async ValueTask DisposeAsync()
        {
            Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }
}
