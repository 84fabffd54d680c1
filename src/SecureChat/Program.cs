using System.CommandLine;
using Microsoft.Extensions.Logging;
using SecureChat.Chat;
using SecureChat.Cli;
using SecureChat.Daemon;
using SecureChat.Net;
using SecureChat.Storage;

ILoggerFactory? loggers = null;
var home = new Option<string?>("--home") { Description = "The data directory (default: $SECURECHAT_HOME, else the XDG data directory).", Recursive = true };
var verbose = new Option<bool>("--verbose", "-v") { Description = "Log what the node does to stderr.", Recursive = true };

var name = new Option<string?>("--name") { Description = "The name peers see." };
var noPassphrase = new Option<bool>("--no-passphrase") { Description = "Store the keys without a passphrase (for unattended nodes; warns)." };
var init = new Command("init", "Create this node's identity.") { name, noPassphrase };
init.SetAction(parse => Run(_ => Task.FromResult(IdentityCommands.Init(HomeOf(parse), parse.GetValue(name), parse.GetValue(noPassphrase)))));

var qr = new Option<bool>("--qr") { Description = "Also draw the ID as a QR code." };
var inviteOption = new Option<bool>("--invite") { Description = "Also print an invite link (third line), with the running node's addresses." };
var oneTimeOption = new Option<bool>("--one-time") { Description = "Make the invite link one-time: its holder becomes a contact without a request (one account, once, within 7 days)." };
var id = new Command("id", "Print this node's ID (first line) and fingerprint.") { qr, inviteOption, oneTimeOption };
id.SetAction(parse => Run(_ => Task.FromResult(IdentityCommands.Show(HomeOf(parse), parse.GetValue(qr), parse.GetValue(inviteOption), parse.GetValue(oneTimeOption)))));

var host = new Option<string>("--host") { Description = "The address to listen on (:: takes IPv4 and IPv6, 0.0.0.0 IPv4 only).", DefaultValueFactory = _ => "::" };
var port = new Option<int>("--port", "-p") { Description = "The port to listen on (0 picks a free one).", DefaultValueFactory = _ => PeerEndpoint.DefaultPort };
var openDoor = new Option<bool>("--open-door") { Description = "Take everyone who connects as a contact at once, without a request (for a classroom)." };
var listen = new Command("listen", "Wait for peers and chat with every one that connects (strangers ask first: /accept).") { host, port, openDoor };
listen.SetAction(parse => Run(token => ListenCommand.RunAsync(HomeOf(parse), parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(openDoor), new ChannelOptions(), loggers!, token)));

var target = new Argument<string>("address") { Description = "HOST:PORT, or ID@HOST:PORT to insist on a verified ID." };
var connect = new Command("connect", "Connect to a peer and chat.") { target };
connect.SetAction(parse => Run(token => ConnectCommand.RunAsync(HomeOf(parse), parse.GetValue(target)!, new ChannelOptions(), loggers!, token)));

var listenAt = new Option<string>("--listen") { Description = "Where to accept peers: HOST:PORT (port 0 picks a free one; [::] takes IPv4 and IPv6, 0.0.0.0 IPv4 only).", DefaultValueFactory = _ => $"[::]:{PeerEndpoint.DefaultPort}" };
var apiPort = new Option<int>("--api-port") { Description = "The local API's port on 127.0.0.1 (0 picks a free one).", DefaultValueFactory = _ => RunCommand.DefaultApiPort };
var noUi = new Option<bool>("--no-ui") { Description = "Serve only the local API, no web pages." };
var openUi = new Option<bool>("--open") { Description = "Open the web UI in the default browser." };
var noDht = new Option<bool>("--no-dht") { Description = "Do not join the Mainline DHT (contacts are then found only by address or on the LAN)." };
var runDhtPort = new Option<int>("--dht-port") { Description = "The DHT node's UDP port (0 picks a free one).", DefaultValueFactory = _ => PeerEndpoint.DefaultPort };
var runBootstrap = new Option<string[]>("--bootstrap") { Description = "A DHT node to join through, HOST:PORT; repeatable (default: the public Mainline routers)." };
var discoverable = new Option<bool>("--discoverable") { Description = "Publish this node's address under its ID, so anyone who has the ID can connect (off by default: it tells whoever knows your ID where you are)." };
var noLan = new Option<bool>("--no-lan") { Description = "Send no LAN beacons and ignore those of others." };
var lanInterface = new Option<string>("--lan-interface") { Description = "The IPv4 address of the interface LAN beacons use (default: the system's choice).", DefaultValueFactory = _ => "0.0.0.0" };
var lanPort = new Option<int>("--lan-port") { Description = "The UDP port of LAN beacons (every node on the network must use the same).", DefaultValueFactory = _ => 7313 };
var quota = new Option<string?>("--quota") { Description = "What each contact may have stored, MESSAGES:BYTES:SECONDS (texts and bytes of text per sliding window; default 5000:20971520:86400, a day). Beyond it its messages are refused with a reason its node shows, and wait in its outbox." };
var noPortMapping = new Option<bool>("--no-port-mapping") { Description = "Do not ask the router to forward the listen port and the DHT port (UPnP-IGD, NAT-PMP, PCP)." };
var portMapping = new Option<string>("--port-mapping") { Description = "Which protocol asks the router for port mappings: auto (PCP, then NAT-PMP, then UPnP-IGD), pcp, natpmp or upnp.", DefaultValueFactory = _ => "auto" };
var portMappingCheck = new Option<int>("--port-mapping-check") { Description = "Seconds between renewals of the router's mappings, which is also how soon a router that forgot them or changed its address is noticed (default 60).", DefaultValueFactory = _ => 60 };
var run = new Command("run", "Run the node until stopped: keep contacts connected, deliver queued messages, serve the web UI and the local API.") { listenAt, apiPort, noUi, openUi, noDht, runDhtPort, runBootstrap, discoverable, noLan, lanInterface, lanPort, quota, noPortMapping, portMapping, portMappingCheck };
run.SetAction(parse => Run(token => RunCommand.RunAsync(
    HomeOf(parse),
    parse.GetValue(listenAt)!,
    parse.GetValue(apiPort),
    parse.GetValue(noUi),
    parse.GetValue(openUi),
    new DiscoveryChoices(parse.GetValue(noDht), parse.GetValue(runDhtPort), parse.GetValue(runBootstrap) ?? [], parse.GetValue(discoverable), parse.GetValue(noLan), parse.GetValue(lanInterface)!, parse.GetValue(lanPort), parse.GetValue(noPortMapping), parse.GetValue(portMapping)!, parse.GetValue(portMappingCheck)),
    parse.GetValue(quota),
    loggers!,
    token)));

var ui = new Command("ui", "Print a fresh link to the running node's chat window: it opens one browser, once, within 10 minutes.");
ui.SetAction(parse => Run(_ => Task.FromResult(UiCommand.Run(HomeOf(parse)))));

var json = new Option<bool>("--json") { Description = "Print one JSON array, for scripts." };
var statusJson = new Option<bool>("--json") { Description = "Print one JSON object, for scripts: the node's status and its contacts." };
var status = new Command("status", "Ask the running node how contacts can reach it and why, where it listens, its DHT and port mapping, and how each contact is connected.") { statusJson };
status.SetAction(parse => Run(_ => Task.FromResult(StatusCommand.Run(HomeOf(parse), parse.GetValue(statusJson)))));
var contactId = new Argument<string>("id") { Description = "The contact's ID, as `securechat id` prints it, or an invite link (securechat:…)." };
var contactName = new Option<string?>("--name") { Description = "The name to know the contact by." };
var contactEndpoint = new Option<string?>("--endpoint") { Description = "Where to reach the contact: HOST:PORT." };
var contactsAdd = new Command("add", "Add a contact by ID or invite link.") { contactId, contactName, contactEndpoint };
contactsAdd.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.Add(HomeOf(parse), parse.GetValue(contactId)!, parse.GetValue(contactName), parse.GetValue(contactEndpoint)))));
var contactsList = new Command("list", "List contacts.") { json };
contactsList.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.List(HomeOf(parse), parse.GetValue(json)))));
var who = new Argument<string>("contact") { Description = "The contact's name, or its ID (or the ID's beginning)." };
var newName = new Argument<string>("new-name") { Description = "The new name." };
var contactsRename = new Command("rename", "Rename a contact.") { who, newName };
contactsRename.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.Rename(HomeOf(parse), parse.GetValue(who)!, parse.GetValue(newName)!))));
var contactsRemove = new Command("remove", "Remove a contact and your conversation with it.") { who };
contactsRemove.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.Remove(HomeOf(parse), parse.GetValue(who)!))));
var yes = new Option<bool>("--yes") { Description = "Record the verification without asking (the numbers were compared)." };
var contactsVerify = new Command("verify", "Show the safety number and record that it was verified.") { who, yes };
contactsVerify.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.Verify(HomeOf(parse), parse.GetValue(who)!, parse.GetValue(yes)))));
var contactsBlock = new Command("block", "Block a contact, a request or any account by ID: its connections are refused, what it sent is deleted.") { who };
contactsBlock.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.Block(HomeOf(parse), parse.GetValue(who)!))));
var contactsBlocked = new Command("blocked", "List the blocked accounts.") { json };
contactsBlocked.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.ListBlocked(HomeOf(parse), parse.GetValue(json)))));
var accountId = new Argument<string>("id") { Description = "The account's ID (or its beginning)." };
var contactsUnblock = new Command("unblock", "Lift a block; if the account connects again it asks as a new request.") { accountId };
contactsUnblock.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.Unblock(HomeOf(parse), parse.GetValue(accountId)!))));
var contacts = new Command("contacts", "Add, list, rename, remove, verify and block contacts.") { contactsAdd, contactsList, contactsRename, contactsRemove, contactsVerify, contactsBlock, contactsBlocked, contactsUnblock };

var requestName = new Option<string?>("--name") { Description = "The name to know the new contact by (else it stays unnamed, shown by what it calls itself)." };
var requestsAccept = new Command("accept", "Make a request a contact.") { accountId, requestName };
requestsAccept.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.Accept(HomeOf(parse), parse.GetValue(accountId)!, parse.GetValue(requestName)))));
var requestsDecline = new Command("decline", "Forget a request and what it sent.") { accountId };
requestsDecline.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.Decline(HomeOf(parse), parse.GetValue(accountId)!))));
var requestsBlock = new Command("block", "Refuse a request's account from now on.") { accountId };
requestsBlock.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.Block(HomeOf(parse), parse.GetValue(accountId)!))));
var requests = new Command("requests", "List contact requests (strangers who connected), and accept, decline or block them.") { requestsAccept, requestsDecline, requestsBlock, json };
requests.SetAction(parse => Run(_ => Task.FromResult(RequestCommands.List(HomeOf(parse), parse.GetValue(json)))));

var limit = new Option<int>("--limit") { Description = "How many messages.", DefaultValueFactory = _ => 20 };
var before = new Option<string?>("--before") { Description = "Show the messages before this message ID." };
var history = new Command("history", "Page through a conversation, newest last.") { who, limit, before, json };
history.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.History(HomeOf(parse), parse.GetValue(who)!, parse.GetValue(limit), parse.GetValue(before), parse.GetValue(json)))));

var query = new Argument<string>("query") { Description = "Words, or beginnings of words, that must all appear." };
var inConversation = new Option<string?>("--contact") { Description = "Search one conversation only." };
var searchLimit = new Option<int>("--limit") { Description = "How many messages at most.", DefaultValueFactory = _ => 20 };
var search = new Command("search", "Find messages by words and word beginnings, newest first.") { query, inConversation, searchLimit, json };
search.SetAction(parse => Run(_ => Task.FromResult(ContactCommands.Search(HomeOf(parse), parse.GetValue(query)!, parse.GetValue(inConversation), parse.GetValue(searchLimit), parse.GetValue(json)))));

var recipient = new Argument<string>("contact") { Description = "The contact's name, or its ID (or the ID's beginning)." };
var text = new Argument<string>("text") { Description = "The message." };
var wait = new Option<bool>("--wait") { Description = "Wait until the contact has stored it (needs a running node)." };
var waitTimeout = new Option<int>("--timeout") { Description = "How long --wait waits, in seconds.", DefaultValueFactory = _ => 30 };
var send = new Command("send", "Queue a message for a contact and print its ID; a running node delivers it.") { recipient, text, wait, waitTimeout };
send.SetAction(parse => Run(token => SendCommand.RunAsync(HomeOf(parse), parse.GetValue(recipient)!, parse.GetValue(text)!, parse.GetValue(wait), parse.GetValue(waitTimeout), token)));

var passwd = new Command("passwd", "Change the passphrase (re-wraps the data key; nothing else is re-encrypted).") { noPassphrase };
passwd.SetAction(parse => Run(_ => Task.FromResult(PasswdCommand.Run(HomeOf(parse), parse.GetValue(noPassphrase)))));

var backupFile = new Argument<string>("file") { Description = "The backup file." };
var force = new Option<bool>("--force") { Description = "Replace the file if it exists." };
var export = new Command("export", "Write an encrypted backup of the identity, contacts and messages (asks a backup passphrase).") { backupFile, force };
export.SetAction(parse => Run(_ => Task.FromResult(BackupCommands.Export(HomeOf(parse), parse.GetValue(backupFile)!, parse.GetValue(force)))));
var import = new Command("import", "Restore a backup into a data directory that has no identity yet.") { backupFile };
import.SetAction(parse => Run(_ => Task.FromResult(BackupCommands.Import(HomeOf(parse), parse.GetValue(backupFile)!))));

var bootstrapNodes = new Option<string[]>("--bootstrap") { Description = "A DHT node to join through, HOST:PORT; repeatable (default: the public Mainline routers).", Recursive = true, AllowMultipleArgumentsPerToken = false };
var dhtPort = new Option<int>("--port") { Description = "The local UDP port for this command's DHT node (0 picks a free one).", Recursive = true };
var dhtTimeout = new Option<int>("--timeout") { Description = "Give up after this many seconds.", DefaultValueFactory = _ => 30, Recursive = true };
var dhtAddress = new Argument<string>("address") { Description = "HOST:PORT of a DHT node." };
var infoHash = new Argument<string>("infohash") { Description = "The info-hash, 40 hexadecimal characters." };
var peerPort = new Option<int>("--peer-port") { Description = "The port to announce (0: this node's UDP port, BEP 5's implied_port)." };
var keyFile = new Option<string>("--key-file") { Description = "The Ed25519 seed that signs the item: 32 raw bytes or 64 hexadecimal characters.", Required = true };
var salt = new Option<string?>("--salt") { Description = "BEP 44 salt (text, at most 64 bytes): one key can sign many items." };
var seq = new Option<long?>("--seq") { Description = "The sequence number (default: one more than the stored item's)." };
var dhtValue = new Argument<string>("value") { Description = "The value, stored as a bencoded string of its UTF-8 text (at most 1,000 bytes)." };
var publicKeyHex = new Argument<string>("pubkey") { Description = "The Ed25519 public key, 64 hexadecimal characters." };
var dhtTarget = new Argument<string>("target") { Description = "The item's target, 40 hexadecimal characters." };
var dhtPing = new Command("ping", "Ping a DHT node; prints its ID and the round trip.") { dhtAddress };
dhtPing.SetAction(parse => Run(token => Dht(parse).PingAsync(parse.GetValue(dhtAddress)!, token)));
var dhtGetPeers = new Command("get-peers", "Find peers announced for an info-hash (BEP 5); prints one HOST:PORT a line.") { infoHash };
dhtGetPeers.SetAction(parse => Run(token => Dht(parse).GetPeersAsync(parse.GetValue(infoHash)!, token)));
var dhtAnnounce = new Command("announce", "Announce a peer for an info-hash (BEP 5).") { infoHash, peerPort };
dhtAnnounce.SetAction(parse => Run(token => Dht(parse).AnnounceAsync(parse.GetValue(infoHash)!, parse.GetValue(peerPort), token)));
var dhtPut = new Command("put", "Store a signed mutable item (BEP 44); prints the public key in hex.") { keyFile, salt, seq, dhtValue };
dhtPut.SetAction(parse => Run(token => Dht(parse).PutAsync(parse.GetValue(keyFile)!, parse.GetValue(salt), parse.GetValue(seq), parse.GetValue(dhtValue)!, token)));
var dhtGet = new Command("get", "Fetch a mutable item (BEP 44) and print its value.") { publicKeyHex, salt };
dhtGet.SetAction(parse => Run(token => Dht(parse).GetAsync(parse.GetValue(publicKeyHex)!, parse.GetValue(salt), token)));
var dhtPutImmutable = new Command("put-immutable", "Store an immutable item (BEP 44); prints its target.") { dhtValue };
dhtPutImmutable.SetAction(parse => Run(token => Dht(parse).PutImmutableAsync(parse.GetValue(dhtValue)!, token)));
var dhtGetImmutable = new Command("get-immutable", "Fetch an immutable item (BEP 44) and print its value.") { dhtTarget };
dhtGetImmutable.SetAction(parse => Run(token => Dht(parse).GetImmutableAsync(parse.GetValue(dhtTarget)!, token)));
var dht = new Command("dht", "Use the Mainline DHT directly: ping, peers, and BEP 44 items.") { dhtPing, dhtGetPeers, dhtAnnounce, dhtPut, dhtGet, dhtPutImmutable, dhtGetImmutable };
dht.Options.Add(bootstrapNodes);
dht.Options.Add(dhtPort);
dht.Options.Add(dhtTimeout);

var root = new RootCommand("SecureChat: end-to-end encrypted chat without servers.") { init, id, run, status, ui, send, listen, connect, contacts, requests, history, search, dht, passwd, export, import };
root.Options.Add(home);
root.Options.Add(verbose);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    await Console.Error.WriteLineAsync($"securechat: {string.Join(" ", parsed.Errors.Select(e => e.Message))} Run `securechat --help` for usage.");
    return ExitCodes.Usage;
}

// Logs go to stderr; disposing the factory at exit flushes what is queued.
using (loggers = LoggerFactory.Create(builder => builder
    .SetMinimumLevel(parsed.GetValue(verbose) ? LogLevel.Debug : parsed.CommandResult.Command == run ? LogLevel.Information : LogLevel.Warning)
    .AddFilter("Microsoft", parsed.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning)
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;

        // With --verbose each line says when (UTC, to the millisecond): what a node did in its first seconds is read off these.
        o.TimestampFormat = parsed.GetValue(verbose) ? "HH:mm:ss.fff " : null;
        o.UseUtcTimestamp = true;
    })
    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)))
{
    // CommandRunner turns SIGINT and SIGTERM into cancellation and lets each verb stop cleanly;
    // System.CommandLine's own 2 s termination timeout would cut that short with exit 143.
    return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
}

string HomeOf(ParseResult parse) => DataDirectory.Resolve(parse.GetValue(home));

ILogger Logger() => loggers!.CreateLogger("securechat");

DhtCommands Dht(ParseResult parse) =>
    new(parse.GetValue(bootstrapNodes) ?? [], parse.GetValue(dhtPort), parse.GetValue(dhtTimeout) is > 0 and var t ? t : throw new UsageException("--timeout takes a positive number of seconds."), Logger());

static Task<int> Run(Func<CancellationToken, Task<int>> verb) => CommandRunner.RunAsync(verb, CancellationToken.None);
