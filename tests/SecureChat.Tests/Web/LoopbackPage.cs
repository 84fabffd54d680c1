using System.Globalization;
using System.Net;
using System.Text;
using SecureChat.Testing;

namespace SecureChat.Tests.Web;

/// <summary>
/// A page of "another site" for the cross-origin tests: one HTML document served by a tiny server
/// on 127.0.0.1 at a free port, so the browser treats it as a real loopback origin (a routed,
/// fulfilled page would count as public and be kept from loopback by the browser itself).
/// </summary>
internal sealed class LoopbackPage : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly byte[] _body;
    private readonly Task _serving;

    public LoopbackPage(string html)
    {
        _body = Encoding.UTF8.GetBytes(html);
        // HttpListener takes a prefix with a port and cannot bind port 0 and report it.
        var port = LoopbackPort.Unused();
        Url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _serving = ServeAsync();
    }

    public string Url { get; }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _ = _serving.Exception;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.ContentLength64 = _body.Length;
            await context.Response.OutputStream.WriteAsync(_body);
            context.Response.Close();
        }
    }
}
