using System.CommandLine;
using Microsoft.Extensions.Logging;
using SecureChat.Chat;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Storage;

ILoggerFactory? loggers = null;
var home = new Option<string?>("--home") { Description = "The data directory (default: $SECURECHAT_HOME, else the XDG data directory).", Recursive = true };
var verbose = new Option<bool>("--verbose", "-v") { Description = "Log what the node does to stderr.", Recursive = true };

var name = new Option<string?>("--name") { Description = "The name peers see." };
var noPassphrase = new Option<bool>("--no-passphrase") { Description = "Store the keys without a passphrase (for unattended nodes; warns)." };
var init = new Command("init", "Create this node's identity.") { name, noPassphrase };
init.SetAction(parse => Run(_ => Task.FromResult(IdentityCommands.Init(Directory(parse), parse.GetValue(name), parse.GetValue(noPassphrase)))));

var qr = new Option<bool>("--qr") { Description = "Also draw the ID as a QR code." };
var id = new Command("id", "Print this node's ID (first line) and fingerprint.") { qr };
id.SetAction(parse => Run(_ => Task.FromResult(IdentityCommands.Show(Directory(parse), parse.GetValue(qr)))));

var host = new Option<string>("--host") { Description = "The address to listen on.", DefaultValueFactory = _ => "0.0.0.0" };
var port = new Option<int>("--port", "-p") { Description = "The port to listen on (0 picks a free one).", DefaultValueFactory = _ => PeerEndpoint.DefaultPort };
var listen = new Command("listen", "Wait for peers and chat with every one that connects.") { host, port };
listen.SetAction(parse => Run(token => ListenCommand.RunAsync(Directory(parse), parse.GetValue(host)!, parse.GetValue(port), new ChannelOptions(), Logger(), token)));

var target = new Argument<string>("address") { Description = "HOST:PORT, or ID@HOST:PORT to insist on a verified ID." };
var connect = new Command("connect", "Connect to a peer and chat.") { target };
connect.SetAction(parse => Run(token => ConnectCommand.RunAsync(Directory(parse), parse.GetValue(target)!, new ChannelOptions(), Logger(), token)));

var root = new RootCommand("SecureChat: end-to-end encrypted chat without servers.") { init, id, listen, connect };
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
    .SetMinimumLevel(parsed.GetValue(verbose) ? LogLevel.Debug : LogLevel.Warning)
    .AddSimpleConsole(o => o.SingleLine = true)
    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)))
{
    return await parsed.InvokeAsync();
}

string Directory(ParseResult parse) => DataDirectory.Resolve(parse.GetValue(home));

ILogger Logger() => loggers!.CreateLogger("securechat");

static Task<int> Run(Func<CancellationToken, Task<int>> verb) => CommandRunner.RunAsync(verb, CancellationToken.None);
