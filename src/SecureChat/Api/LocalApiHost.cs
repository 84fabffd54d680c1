using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SecureChat.Cli;
using SecureChat.Node;
using SecureChat.Web;

namespace SecureChat.Api;

/// <summary>
/// A running node's local API on 127.0.0.1 (and, for <c>securechat run</c>, its web UI): behind a
/// random bearer token written to <c>api.json</c> (0600) in the data directory, so that every CLI
/// verb run meanwhile goes through the node that holds the store (<see cref="Storage.HomeLock"/>).
/// Every node — <c>run</c>, <c>listen</c>, <c>connect</c> — serves one. Disposing stops it and
/// removes <c>api.json</c>.
/// </summary>
internal sealed class LocalApiHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;
    private int _disposed;

    private LocalApiHost(WebApplication app, string directory, string url, WebUi? ui)
    {
        _app = app;
        _directory = directory;
        Url = url;
        Ui = ui;
    }

    /// <summary>The API's address, <c>http://127.0.0.1:PORT/</c>.</summary>
    public string Url { get; }

    /// <summary>The web UI, when it was asked for.</summary>
    public WebUi? Ui { get; }

    /// <summary>Starts the API on <paramref name="apiPort"/> (0: any free port), with the web UI when <paramref name="withUi"/>, and writes <c>api.json</c>.</summary>
    /// <exception cref="UsageException">Another program holds the port.</exception>
    public static async Task<LocalApiHost> StartAsync(ChatNode node, string directory, int apiPort, bool withUi, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var token = AccessToken.Create();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(node);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, apiPort));
        ApiErrors.Configure(builder);
        var app = builder.Build();
        var port = 0;
        var ui = withUi ? new WebUi(token, new WebSessions(() => port), new LoginLinks(), () => port) : null;
        app.Use(ApiErrors.InvokeAsync);
        app.Use(new ApiGuard(token, () => port, ui).InvokeAsync);
        LocalApi.Map(app, node);
        if (ui is null)
        {
            WebUi.MapWithoutUi(app, token);
        }
        else
        {
            ui.Map(app);
        }

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync();
            throw new UsageException($"The local API could not listen on 127.0.0.1:{apiPort} ({ex.Message.TrimEnd('.')}): another program uses the port; choose another with --api-port (0 picks a free one).");
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        port = new Uri(address).Port;
        var url = $"http://127.0.0.1:{port}/";
        new ApiFile(url, token.Text, Environment.ProcessId).Write(directory);
        return new LocalApiHost(app, directory, url, ui);
    }

    /// <summary>Stops answering (open event streams end) and removes <c>api.json</c>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ApiFile.Delete(_directory);
        try
        {
            await _app.StopAsync(CancellationToken.None);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
