using Microsoft.Extensions.Logging;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Node.Tests;

/// <summary>
/// One person's node as the tests run it: an identity, a data directory with its data key and
/// open store, and at most one running <see cref="ChatNode"/>, which can be stopped and started
/// again on the same store and the same port.
/// </summary>
internal sealed class NodeHome : IAsyncDisposable
{
    /// <summary>
    /// Loopback; redials quick enough that a restarted peer is found within a second; and a close
    /// timeout of 1 s, not 5: a peer answers a close at once, but a node that does not read the
    /// answer waits the timeout out on every stop (ConnectionTests.DisposeAsync_PeerOnline_…
    /// asserts that with the default), which would otherwise cost this suite a minute.
    /// </summary>
    public static readonly NodeOptions FastOptions = new()
    {
        ListenHost = "127.0.0.1",
        ListenPort = 0,
        MinRedialDelay = TimeSpan.FromMilliseconds(50),
        MaxRedialDelay = TimeSpan.FromMilliseconds(500),
        Channel = new ChannelOptions { CloseTimeout = TimeSpan.FromSeconds(1) },
    };

    /// <summary><see cref="FastOptions"/> for a node that starts without listening (it may start later, through <see cref="ChatNode.StartListeningAsync"/>).</summary>
    public static readonly NodeOptions NotListening = FastOptions with { ListenHost = null };

    private static readonly DateTimeOffset CreatedAt = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly DirectoryInfo _parent = Directory.CreateTempSubdirectory("securechat-node-");
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly ILogger _logger;
    private readonly NodeOptions _options;
    private ChatNode? _node;

    public NodeHome(string displayName, ILogger logger, NodeOptions? options = null)
        : this(LocalIdentity.Create(displayName, CreatedAt), logger, options)
    {
    }

    /// <summary>A node with a given identity (another device of an existing account, say); the home disposes it.</summary>
    public NodeHome(LocalIdentity identity, ILogger logger, NodeOptions? options = null)
    {
        _logger = logger;
        _options = options ?? FastOptions;
        Identity = identity;
        Path = System.IO.Path.Combine(_parent.FullName, "home");
        Store = OpenStore();
    }

    public LocalIdentity Identity { get; }

    public AccountId Account => Identity.Account;

    /// <summary>The data directory: securechat.db and its -wal and -shm files.</summary>
    public string Path { get; }

    public LocalStore Store { get; private set; }

    public ChatNode Node => _node ?? throw new InvalidOperationException($"The node of {Identity.DisplayName} is not running.");

    /// <summary>The port the node listened on when it last started (0 before it first started listening).</summary>
    public int Port { get; private set; }

    /// <summary>Where peers dial this node, in the form contacts keep.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts the node: on a free port the first time, then on the same port as before.</summary>
    public ChatNode Start()
    {
        if (_node is not null)
        {
            throw new InvalidOperationException($"The node of {Identity.DisplayName} is already running.");
        }

        _node = ChatNode.Start(Identity, Store, _options with { ListenPort = Port }, _logger);
        if (_node.ListenEndPoint is { } listening)
        {
            Port = listening.Port;
        }

        return _node;
    }

    public async Task StopAsync()
    {
        if (_node is { } node)
        {
            _node = null;
            await node.DisposeAsync();
        }
    }

    /// <summary>Closes the store and opens it again from disk; the node must be stopped.</summary>
    public void ReopenStore()
    {
        if (_node is not null)
        {
            throw new InvalidOperationException("Stop the node before reopening its store.");
        }

        Store.Dispose();
        Store = OpenStore();
    }

    /// <summary>This node's contact record for <paramref name="other"/>; fails the test if there is none.</summary>
    public Contact ContactOf(NodeHome other) =>
        Store.Contacts.Find(other.Account) ?? throw new Xunit.Sdk.XunitException($"{Identity.DisplayName} has no contact for {other.Identity.DisplayName}.");

    /// <summary>This node's contact record for <paramref name="other"/>, or null while they have not met.</summary>
    public Contact? FindContact(NodeHome other) => Store.Contacts.Find(other.Account);

    /// <summary>The whole conversation with <paramref name="other"/>, oldest first.</summary>
    public IReadOnlyList<StoredMessage> History(NodeHome other) =>
        FindContact(other) is { } contact ? Store.Messages.History(contact, int.MaxValue) : [];

    /// <summary>How many messages this node holds from or to <paramref name="other"/>.</summary>
    public long CountWith(NodeHome other) =>
        FindContact(other) is { } contact ? Store.Messages.Count(contact) : 0;

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Store.Dispose();
        Identity.Dispose();
        _dataKey.Dispose();
        _parent.Delete(recursive: true);
    }

    /// <summary>The store keeps time by the node's clock (<see cref="NodeOptions.Time"/>), as the daemon's does.</summary>
    private LocalStore OpenStore() => LocalStore.Open(Path, _dataKey, Identity.Account, _options.Time);
}
