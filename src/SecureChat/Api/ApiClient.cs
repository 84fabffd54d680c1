using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace SecureChat.Api;

/// <summary>An answer of the local API that is not a success: its status and its sentence.</summary>
internal sealed class ApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>The CLI's side of the local API: talks to the node that runs for a data directory.</summary>
internal sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    private ApiClient(HttpClient http) => _http = http;

    /// <summary>How long a verb that can fall back to the store waits for the node's first answer.</summary>
    public static readonly TimeSpan DefaultProbe = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A client for the node running for <paramref name="directory"/>, or null when none answers
    /// within <paramref name="probe"/> (default <see cref="DefaultProbe"/>; no <c>api.json</c>, or
    /// nobody at its address): the caller then uses the store directly.
    /// </summary>
    public static ApiClient? TryConnect(string directory, TimeSpan? probe = null)
    {
        if (ApiFile.Read(directory) is not { } file || !Uri.TryCreate(file.Url, UriKind.Absolute, out var url) || !IPAddress.TryParse(url.Host, out var host) || !IPAddress.IsLoopback(host))
        {
            return null;
        }

        // The API is on loopback and the request carries the node's bearer token: no proxy, ever.
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }, disposeHandler: true) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", file.Token);
        try
        {
            using var waiting = new CancellationTokenSource(probe ?? DefaultProbe);
            using var response = http.GetAsync("api/status", waiting.Token).GetAwaiter().GetResult();
            if (response.IsSuccessStatusCode)
            {
                return new ApiClient(http);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            // Nobody answers: the node stopped without removing its file (kill -9).
        }

        http.Dispose();
        return null;
    }

    public T Get<T>(string path) => Send<T>(new HttpRequestMessage(HttpMethod.Get, path));

    public T Post<T>(string path, object? body) => Send<T>(new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, options: LocalApi.Json) });

    public T Patch<T>(string path, object body) => Send<T>(new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(body, options: LocalApi.Json) });

    public T Delete<T>(string path) => Send<T>(new HttpRequestMessage(HttpMethod.Delete, path));

    public void Dispose() => _http.Dispose();

    private T Send<T>(HttpRequestMessage request)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = _http.Send(request);
            }
            catch (HttpRequestException ex)
            {
                throw new ApiException(HttpStatusCode.ServiceUnavailable, $"The running node stopped answering ({ex.Message}).");
            }

            using (response)
            {
                using var body = response.Content.ReadAsStream();
                if (!response.IsSuccessStatusCode)
                {
                    string message;
                    try
                    {
                        message = JsonSerializer.Deserialize<ErrorBody>(body, LocalApi.Json)?.Error ?? response.ReasonPhrase ?? "error";
                    }
                    catch (JsonException)
                    {
                        message = $"The node answered {(int)response.StatusCode} {response.ReasonPhrase}.";
                    }

                    throw new ApiException(response.StatusCode, message);
                }

                return JsonSerializer.Deserialize<T>(body, LocalApi.Json)!;
            }
        }
    }

    private sealed record ErrorBody(string? Error);
}
