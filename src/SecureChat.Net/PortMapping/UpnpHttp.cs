using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// The HTTP client that talks to a gateway on the LAN, and its bounded reads. One shared
/// <see cref="SocketsHttpHandler"/> made on purpose: no proxy (the gateway is on the LAN, a
/// proxy would see the request), no redirect (a device must not send this node elsewhere), no
/// cookies, short connect timeout, small response headers. A test or a host that runs the node
/// in another network passes its own client made by <see cref="Create"/> with a connect callback.
/// </summary>
public static class UpnpHttp
{
    /// <summary>A gateway on the LAN answers in milliseconds; one that takes longer than this is treated as absent.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private static readonly Lazy<HttpClient> SharedClient = new(() => Create(null));

    /// <summary>The client every <see cref="UpnpMapper"/> uses unless given another.</summary>
    public static HttpClient Shared => SharedClient.Value;

    /// <summary>A client with the gateway policy above; <paramref name="connect"/>, when given, opens the connection's stream (another namespace, a test).</summary>
    public static HttpClient Create(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxResponseHeadersLength = 16,
            MaxConnectionsPerServer = 2,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        };
        if (connect is not null)
        {
            handler.ConnectCallback = connect;
        }

        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>What one exchange with the gateway came to: the status and the body, or why there is none.</summary>
    internal sealed record Reply(HttpStatusCode Status, byte[]? Body, MappingFailure Failure, string Sentence);

    /// <summary>
    /// Sends <paramref name="request"/> and reads at most <paramref name="maxBytes"/> of the body,
    /// within <see cref="RequestTimeout"/> on <paramref name="time"/>. A connection that fails or
    /// times out is <see cref="MappingFailure.NoRouter"/>; a larger body is
    /// <see cref="MappingFailure.Malformed"/>. Only <paramref name="cancellationToken"/> throws.
    /// </summary>
    internal static async Task<Reply> SendAsync(HttpClient http, HttpRequestMessage request, int maxBytes, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(RequestTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var what = $"{request.Method} {request.RequestUri?.Authority}";
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength is { } declared && declared > maxBytes)
            {
                return new Reply(response.StatusCode, null, MappingFailure.Malformed, $"the gateway's answer to {what} declares {declared} bytes, more than the {maxBytes} read");
            }

            var body = await response.Content.ReadAsStreamAsync(linked.Token).ConfigureAwait(false);
            await using var bodyScope = body.ConfigureAwait(false);
            var buffer = new byte[maxBytes + 1];
            var length = 0;
            while (length < buffer.Length)
            {
                var read = await body.ReadAsync(buffer.AsMemory(length), linked.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return length > maxBytes
                ? new Reply(response.StatusCode, null, MappingFailure.Malformed, $"the gateway's answer to {what} is longer than the {maxBytes} bytes read")
                : new Reply(response.StatusCode, buffer[..length], MappingFailure.None, string.Empty);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Reply(0, null, MappingFailure.NoRouter, $"the gateway did not answer {what} within {RequestTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException ex)
        {
            return new Reply(0, null, MappingFailure.NoRouter, $"the gateway could not be reached for {what} ({ex.HttpRequestError})");
        }
        catch (IOException)
        {
            return new Reply(0, null, MappingFailure.NoRouter, $"the connection to the gateway broke during {what}");
        }
        catch (SocketException ex)
        {
            return new Reply(0, null, MappingFailure.NoRouter, $"the gateway could not be reached for {what} ({ex.SocketErrorCode})");
        }
    }

    /// <summary>A SOAP POST of <paramref name="body"/> to <paramref name="controlUrl"/> for <paramref name="soapAction"/>.</summary>
    internal static HttpRequestMessage SoapRequest(Uri controlUrl, string soapAction, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, controlUrl) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/xml; charset=\"utf-8\"");
        request.Headers.TryAddWithoutValidation("SOAPAction", soapAction);
        return request;
    }
}
