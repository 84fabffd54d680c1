using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage.CrashWriter;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Storage.Tests;

/// <summary>
/// The store's promise: a message <c>Messages.Add</c> reported as saved survives <c>kill -9</c> at
/// any moment, and the database never needs repair. A real child process (SecureChat.Storage.CrashWriter)
/// stores messages and prints <c>saved ID</c> after each Add returns; the test sends SIGKILL after a
/// random number of those lines, or at a random time while the store is being created, then opens the
/// database itself: <c>PRAGMA integrity_check</c> says ok, every reported message is there once with
/// its exact text, and whatever else is there decrypts. The kill points come from a seeded
/// <see cref="Random"/>; the seed is printed, and <c>SECURECHAT_CRASH_SEED=N</c> replays it.
/// </summary>
[Trait("Speed", "Slow")]
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Kill points must be reproducible from a printed seed; nothing secret is drawn from it.")]
public sealed partial class CrashDurabilityTests : IDisposable
{
    private const string SeedVariable = "SECURECHAT_CRASH_SEED";

    /// <summary>Rounds killed after a random number of saved lines, all on the same database.</summary>
    private const int LineKillRounds = 6;

    private const int MaxSavedBeforeKill = 2500;

    /// <summary>What a killed writer is asked to store: more than any round lets it reach.</summary>
    private const int MessagesPerKilledRun = 10_000;

    /// <summary>The last run is not killed: it stores this many and exits 0.</summary>
    private const int MessagesInCompletedRun = 200;

    /// <summary>Fresh databases killed at a random time after the writer starts opening them.</summary>
    private const int CreationKillRounds = 6;

    /// <summary>
    /// The window for kills at a random time, from the writer's "opening" line. Opening a new store
    /// (loading SQLite, creating the file, WAL, the migration, the contact) takes 150–800 ms on two
    /// cores, so kills in this window leave every stage: no file, an empty file, WAL with schema 0,
    /// schema 1 without the contact, the contact without messages, and the first messages.
    /// </summary>
    private const int MaxKillDelayMs = 300;

    /// <summary>The longest any single wait lasts.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _output;
    private readonly TemporaryDirectory _home = new();
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly AccountId _self;
    private readonly AccountId _peer;
    private readonly int _seed;
    private readonly Random _random;

    public CrashDurabilityTests(ITestOutputHelper output)
    {
        _output = output;
        using var self = LocalIdentity.Create("Alice", DateTimeOffset.UtcNow);
        using var peer = LocalIdentity.Create("Bob", DateTimeOffset.UtcNow);
        _self = self.Account;
        _peer = peer.Account;
        _seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
        _random = new Random(_seed);
        _output.WriteLine($"seed {_seed} (replay with {SeedVariable}={_seed})");
    }

    public void Dispose()
    {
        _dataKey.Dispose();
        _home.Dispose();
    }

    [Fact]
    public async Task Add_WriterKilledAtRandomPoints_EveryReportedMessageSurvivesAndTheDatabaseOpensCleanly()
    {
        var log = new ReportedLog();
        var started = Stopwatch.StartNew();

        // Round 1 creates the database and is killed at a random time: during the creation, the
        // migration, the contact's insert or the first messages.
        var delay = _random.Next(MaxKillDelayMs + 1);
        await RunAsync(log, $"round 1 (kill {delay} ms after opening)", MessagesPerKilledRun, WriterKill.AfterDelay(delay));

        for (var round = 2; round < 2 + LineKillRounds; round++)
        {
            var killAfter = _random.Next(1, MaxSavedBeforeKill + 1);
            await RunAsync(log, $"round {round} (kill after {killAfter} saved)", MessagesPerKilledRun, WriterKill.AfterSavedLines(killAfter));
        }

        await RunAsync(log, $"round {2 + LineKillRounds} (not killed)", MessagesInCompletedRun, WriterKill.Never);

        _output.WriteLine($"{log.Ids.Count} messages saved over {1 + LineKillRounds} kills and one clean exit, all present; {started.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Open_WriterKilledWhileCreatingTheStore_OpensCleanlyWithEveryReportedMessage()
    {
        for (var round = 1; round <= CreationKillRounds; round++)
        {
            using var home = new TemporaryDirectory();
            var delay = _random.Next(MaxKillDelayMs + 1);
            await RunAsync(new ReportedLog(), $"fresh store {round} (kill {delay} ms after opening)", MessagesPerKilledRun, WriterKill.AfterDelay(delay), home.Path);
        }
    }

    [GeneratedRegex("^saved [0-9a-f]{32}$")]
    private static partial Regex SavedLine();

    [GeneratedRegex("^#([0-9]+) ")]
    private static partial Regex TextIndex();

    /// <summary>Runs the writer once on <paramref name="directory"/> (the class's home by default), kills it as told, and checks the database.</summary>
    private async Task RunAsync(ReportedLog log, string label, int count, WriterKill kill, string? directory = null)
    {
        directory ??= _home.Path;
        var context = $"{label}, seed {_seed}";
        RunSummary summary;
        await using (var writer = WriterProcess.Start(directory, _dataKey, _self, _peer, count, kill.AfterSaved))
        {
            try
            {
                await writer.Opening.WaitAsync(Timeout);
                if (kill.AfterDelayMs is { } delay)
                {
                    // The random kill time is the point of this round, not a wait for something.
                    await Task.Delay(delay);
                    writer.Kill();
                }

                var exitCode = await writer.WaitForExitAsync(Timeout);
                summary = writer.Summary();
                var expectedExit = kill.Kills ? WriterProcess.KilledExitCode : 0;
                if (exitCode != expectedExit)
                {
                    throw new XunitException($"{context}: the writer exited with {exitCode}, expected {expectedExit}.\n{writer.Transcript}");
                }
            }
            catch (Exception ex) when (ex is not XunitException)
            {
                throw new XunitException($"{context}: {ex.Message}\n{writer.Transcript}", ex);
            }
        }

        foreach (var (index, id) in summary.Saved.Index())
        {
            log.Add(id, CrashWriterOutput.Text(id, index));
        }

        var left = VerifyStore(directory, log, kill.Kills ? 1 : 0, context);
        _output.WriteLine($"{label}: {summary.Describe()}; left {left}; {log.Ids.Count} reported so far");
    }

    /// <summary>
    /// Checks the database as the killed writer left it: SQLite finds it intact, the store opens it
    /// without repair, every reported message is there once with its text and in the order it was
    /// saved, and every stored message decrypts. Returns what the writer left, for the log.
    /// </summary>
    private string VerifyStore(string directory, ReportedLog log, int unreportedAllowed, string context)
    {
        var path = Path.Combine(directory, LocalStore.FileName);
        string left;
        if (!File.Exists(path))
        {
            Assert.True(log.Ids.Count == 0, $"{context}: the database is gone, with {log.Ids.Count} messages reported saved");
            left = "no database";
        }
        else
        {
            var (integrity, schema, journal) = Inspect(path);
            Assert.True(integrity is ["ok"], $"{context}: PRAGMA integrity_check: {string.Join("; ", integrity)}");
            left = new FileInfo(path).Length == 0 ? "an empty database file" : $"schema {schema} ({journal})";
        }

        using var store = LocalStore.Open(directory, _dataKey, _self, TimeProvider.System);
        if (store.Contacts.Find(_peer) is not { } contact)
        {
            Assert.True(log.Ids.Count == 0, $"{context}: the contact is gone, with {log.Ids.Count} messages reported saved");
            return $"{left}, no contact";
        }

        // Reading the history opens every sealed text: a torn or misplaced row throws Tampered.
        var history = store.Messages.History(contact, int.MaxValue);
        Assert.Equal(history.Count, store.Messages.Count(contact));
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (position, message) in history.Index())
        {
            Assert.True(positions.TryAdd(message.MessageId, position), $"{context}: message {message.MessageId} is stored twice");
        }

        var missing = log.Ids.Where(id => !positions.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{context}: {missing.Count} of {log.Ids.Count} messages reported saved are missing, first {missing.FirstOrDefault()}");
        var previous = -1;
        foreach (var id in log.Ids)
        {
            var message = history[positions[id]];
            Assert.True(message.Text == log.TextOf(id), $"{context}: message {id} has the wrong text");
            Assert.True(positions[id] > previous, $"{context}: message {id} is out of the order it was saved in");
            previous = positions[id];
        }

        // A killed run may leave one unreported message (committed, killed before its line was
        // written), newer than all it reported; it must be a text the writer wrote, whole.
        var unreported = history.Where(m => !log.Contains(m.MessageId)).ToList();
        Assert.True(unreported.Count <= unreportedAllowed, $"{context}: {unreported.Count} unreported messages, at most {unreportedAllowed} expected");
        foreach (var message in unreported)
        {
            var index = TextIndex().Match(message.Text);
            Assert.True(
                index.Success && message.Text == CrashWriterOutput.Text(message.MessageId, int.Parse(index.Groups[1].Value, CultureInfo.InvariantCulture)),
                $"{context}: unreported message {message.MessageId} has a text the writer did not write");
            log.Add(message.MessageId, message.Text);
        }

        return $"{left}, {history.Count} messages ({unreported.Count} unreported)";
    }

    /// <summary>The database as the crash left it, through a plain SQLite connection (which replays the WAL, as any reader would).</summary>
    private static (List<string> Integrity, long Schema, string Journal) Inspect(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        var integrity = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                integrity.Add(reader.GetString(0));
            }
        }

        command.CommandText = "PRAGMA user_version";
        var schema = (long)command.ExecuteScalar()!;
        command.CommandText = "PRAGMA journal_mode";
        return (integrity, schema, (string)command.ExecuteScalar()!);
    }

    /// <summary>When a run is killed: after N saved lines, after a delay from "opening", or never.</summary>
    private sealed record WriterKill(int? AfterSaved, int? AfterDelayMs)
    {
        public static readonly WriterKill Never = new(null, null);

        public bool Kills => AfterSaved is not null || AfterDelayMs is not null;

        public static WriterKill AfterSavedLines(int lines) => new(lines, null);

        public static WriterKill AfterDelay(int milliseconds) => new(null, milliseconds);
    }

    /// <summary>
    /// The messages reported saved so far, in order, with their texts. A message found stored but
    /// not reported joins them once seen: from then on it must stay.
    /// </summary>
    private sealed class ReportedLog
    {
        private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);

        public List<string> Ids { get; } = [];

        public bool Contains(string id) => _texts.ContainsKey(id);

        public string TextOf(string id) => _texts[id];

        public void Add(string id, string text)
        {
            Assert.True(_texts.TryAdd(id, text), $"message {id} was reported twice");
            Ids.Add(id);
        }
    }

    /// <summary>What one run printed, and when.</summary>
    private sealed record RunSummary(IReadOnlyList<string> Saved, TimeSpan? Opening, TimeSpan? Ready, TimeSpan? LastSaved, TimeSpan Exited)
    {
        public string Describe()
        {
            var phases = $"opening at {Ms(Opening)}, ready at {Ms(Ready)}, ended at {Ms(Exited)}";
            if (Saved.Count == 0 || Ready is null || LastSaved is null)
            {
                return $"{Saved.Count} saved; {phases}";
            }

            var seconds = (LastSaved.Value - Ready.Value).TotalSeconds;
            return $"{Saved.Count} saved at {(seconds > 0 ? Saved.Count / seconds : 0):F0}/s; {phases}";
        }

        private static string Ms(TimeSpan? at) => at is { } t ? $"{t.TotalMilliseconds:F0} ms" : "-";
    }

    /// <summary>
    /// One run of <c>dotnet SecureChat.Storage.CrashWriter.dll</c>. Stdout is read line by line as it
    /// comes; SIGKILL is sent from the reader the moment the Nth saved line arrives. Lines already in
    /// the pipe when it dies are read to the end: the writer reported those messages too. Disposing
    /// kills it if it still runs, so no test leaves a process behind.
    /// </summary>
    private sealed class WriterProcess : IAsyncDisposable
    {
        /// <summary>What .NET reports for a child ended by signal 9 (128 + 9).</summary>
        public const int KilledExitCode = 137;

        private readonly Lock _gate = new();
        private readonly Process _process;
        private readonly int? _killAfterSaved;
        private readonly Stopwatch _clock;
        private readonly List<string> _saved = [];
        private readonly List<string> _unexpected = [];
        private readonly StringBuilder _stderr = new();
        private readonly TaskCompletionSource _opening = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _readingStdout;
        private readonly Task _readingStderr;
        private TimeSpan? _openingAt;
        private TimeSpan? _readyAt;
        private TimeSpan? _lastSavedAt;

        private WriterProcess(Process process, int? killAfterSaved, Stopwatch clock)
        {
            _process = process;
            _killAfterSaved = killAfterSaved;
            _clock = clock;
            _readingStdout = ReadStdoutAsync(process.StandardOutput);
            _readingStderr = ReadStderrAsync(process.StandardError);
        }

        /// <summary>Completes when the writer starts opening the store (fails if it ends first).</summary>
        public Task Opening => _opening.Task;

        public string Transcript
        {
            get
            {
                lock (_gate)
                {
                    return $"--- writer: {_saved.Count} saved lines, unexpected lines: [{string.Join(" | ", _unexpected)}] ---\n--- writer stderr ---\n{_stderr}";
                }
            }
        }

        public static WriterProcess Start(string directory, SecretBytes dataKey, AccountId self, AccountId peer, int count, int? killAfterSaved)
        {
            var program = Path.Combine(AppContext.BaseDirectory, "SecureChat.Storage.CrashWriter.dll");
            Assert.True(File.Exists(program), $"{program} was not built next to the tests");
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
                UseShellExecute = false,
            };
            start.ArgumentList.Add(program);
            start.ArgumentList.Add(directory);
            start.ArgumentList.Add(Convert.ToHexStringLower(dataKey.Span));
            start.ArgumentList.Add(self.Text);
            start.ArgumentList.Add(peer.Text);
            start.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
            var clock = Stopwatch.StartNew();
            var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
            return new WriterProcess(process, killAfterSaved, clock);
        }

        /// <summary>Sends SIGKILL (what <see cref="Process.Kill()"/> sends on Linux); nothing if it already ended.</summary>
        public void Kill()
        {
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException) when (_process.HasExited)
            {
                // It ended on its own first: the exit code tells the test.
            }
        }

        /// <summary>Waits for the exit and for both streams to be read to their end; returns the exit code.</summary>
        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            try
            {
                await _process.WaitForExitAsync().WaitAsync(timeout);
                await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                throw new XunitException($"the writer did not end within {timeout.TotalSeconds} s.\n{Transcript}");
            }

            return _process.ExitCode;
        }

        public RunSummary Summary()
        {
            lock (_gate)
            {
                Assert.True(_unexpected.Count == 0, $"the writer printed unexpected lines.\n{Transcript}");
                return new RunSummary([.. _saved], _openingAt, _readyAt, _lastSavedAt, _clock.Elapsed);
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    Kill();
                    await _process.WaitForExitAsync().WaitAsync(Timeout);
                }

                await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(Timeout);
            }
            finally
            {
                _process.Dispose();
            }
        }

        private async Task ReadStdoutAsync(StreamReader reader)
        {
            try
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    lock (_gate)
                    {
                        Accept(line);
                    }
                }
            }
            finally
            {
                _opening.TrySetException(new XunitException($"the writer ended before opening the store.\n{Transcript}"));
            }
        }

        private void Accept(string line)
        {
            if (SavedLine().IsMatch(line))
            {
                _saved.Add(line[CrashWriterOutput.SavedPrefix.Length..]);
                _lastSavedAt = _clock.Elapsed;
                if (_saved.Count == _killAfterSaved)
                {
                    Kill();
                }
            }
            else if (line == CrashWriterOutput.Opening && _openingAt is null)
            {
                _openingAt = _clock.Elapsed;
                _opening.TrySetResult();
            }
            else if (line == CrashWriterOutput.Ready && _openingAt is not null && _readyAt is null)
            {
                _readyAt = _clock.Elapsed;
            }
            else
            {
                _unexpected.Add(line);
            }
        }

        private async Task ReadStderrAsync(StreamReader reader)
        {
            var buffer = new char[4096];
            int read;
            while ((read = await reader.ReadAsync(buffer)) > 0)
            {
                lock (_gate)
                {
                    _stderr.Append(buffer, 0, read);
                }
            }
        }
    }
}
