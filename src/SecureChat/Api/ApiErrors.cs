using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SecureChat.Web;

namespace SecureChat.Api;

/// <summary>
/// The one place where a failed request gets its sentence: every answer of 400 or more from the
/// node's HTTP server is <c>{"error": sentence}</c>, whoever failed. It runs before everything else
/// and
/// <list type="bullet">
/// <item>refuses an address longer than <see cref="MaxTargetLength"/> (414) and a body larger than
/// <see cref="MaxBodyBytes"/> (413), by its Content-Length before reading it, or once a chunked body
/// grows past it; a refused body is read and thrown away up to <see cref="MaxDrainBytes"/> first, so
/// a client that sends its whole body before reading the answer gets to read it;</item>
/// <item>turns the binding failures of the endpoints (<see cref="BadHttpRequestException"/>, thrown
/// because <see cref="RouteHandlerOptions.ThrowOnBadRequest"/> is set) into a sentence that says what
/// was wrong and what to send instead, and any other exception into a 500 with a sentence;</item>
/// <item>gives a sentence to any error status left without a body: an unknown address (404), a
/// method the address does not take (405).</item>
/// </list>
/// </summary>
internal static partial class ApiErrors
{
    /// <summary>The largest body the API reads: the biggest picture <c>/api/qr/decode</c> takes (2048 × 2048 bytes) and room to spare.</summary>
    public const long MaxBodyBytes = 5 * 1024 * 1024;

    /// <summary>How much of a refused body is read and thrown away so that its sender can read the answer; past it the connection is closed.</summary>
    public const long MaxDrainBytes = 64 * 1024 * 1024;

    /// <summary>The longest path and query the API takes (Kestrel itself refuses request lines over <see cref="MaxRequestLine"/>, without a sentence).</summary>
    public const int MaxTargetLength = 8 * 1024;

    private const int MaxRequestLine = 64 * 1024;

    private const string Readme = "the README's \"Local API\" lists them";

    /// <summary>The server's limits and binding failures as exceptions, so that <see cref="InvokeAsync"/> can word them.</summary>
    public static void Configure(WebApplicationBuilder builder)
    {
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestLineSize = MaxRequestLine;
            kestrel.Limits.MaxRequestBodySize = MaxDrainBytes;
        });
    }

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (request.Path + request.QueryString).ToString();
        if (target.Length > MaxTargetLength)
        {
            await WriteAsync(context, StatusCodes.Status414UriTooLong, string.Create(
                CultureInfo.InvariantCulture,
                $"The address is {target.Length:N0} characters long, over the {MaxTargetLength:N0} the API takes: shorten the query, and send long data in a request body instead."));
            return;
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            await RefuseTooLargeAsync(context, request.Body);
            return;
        }

        var body = new LimitedBody(request.Body, MaxBodyBytes);
        request.Body = body;
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            if (body.Exceeded)
            {
                await RefuseTooLargeAsync(context, body.Inner);
                return;
            }

            var (status, sentence) = Describe(ex, context);
            await WriteAsync(context, status, sentence);
            return;
        }

        if (context.Response.HasStarted)
        {
            return;
        }

        if (body.Exceeded)
        {
            await RefuseTooLargeAsync(context, body.Inner);
        }
        else if (context.Response.StatusCode >= 400)
        {
            await WriteAsync(context, context.Response.StatusCode, Unanswered(context));
        }
    }

    /// <summary>413 for a body over the limit: read and thrown away first (up to a bound) unless the client waits for "100 Continue".</summary>
    private static async Task RefuseTooLargeAsync(HttpContext context, Stream body)
    {
        var request = context.Request;
        var drained = !request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase)
            && request.ContentLength is null or <= MaxDrainBytes
            && await TryDrainAsync(body, context.RequestAborted);
        if (!drained)
        {
            context.Response.Headers.Connection = "close";
        }

        await WriteAsync(context, StatusCodes.Status413PayloadTooLarge, string.Create(
            CultureInfo.InvariantCulture,
            $"The request body is larger than the {MaxBodyBytes / (1024 * 1024)} MiB the API takes: JSON requests are small, and a picture for /api/qr/decode at most 2048 × 2048 bytes."));
    }

    /// <summary>Reads the rest of a body and throws it away; false if it ended otherwise (over the server's bound, or the client left).</summary>
    private static async Task<bool> TryDrainAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await body.ReadAsync(buffer, cancellationToken) > 0)
            {
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, string sentence)
    {
        var response = context.Response;
        var connection = response.Headers.Connection;
        var allowed = status == StatusCodes.Status405MethodNotAllowed ? Allowed(context) : [];
        response.Clear();
        WebUi.SecurityHeaders(response);
        response.Headers.Connection = connection;
        response.Headers.CacheControl = "no-store";
        response.StatusCode = status;
        if (allowed.Count > 0)
        {
            response.Headers.Allow = string.Join(", ", allowed);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await response.WriteAsJsonAsync(new { error = sentence }, LocalApi.Json, context.RequestAborted);
    }

    /// <summary>The sentence for an exception out of the endpoints: what was wrong with the request, and what to send.</summary>
    private static (int Status, string Sentence) Describe(Exception exception, HttpContext context)
    {
        if (exception is not BadHttpRequestException bad)
        {
            // A bug: its type and the address go to the node's log; its message might quote data, so it does not.
            context.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("securechat.api")
                .LogError("The local API failed on {Method} {Endpoint}: {Exception}", context.Request.Method, context.GetEndpoint()?.DisplayName, exception.GetType().FullName);
            return (StatusCodes.Status500InternalServerError, "The node failed to answer this request and keeps running: try again, and report it if it happens again.");
        }

        var example = Example(context);
        if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return (bad.StatusCode, NotJson(example));
        }

        if (bad.InnerException is JsonException json)
        {
            return (StatusCodes.Status400BadRequest, JsonSentence(json, example));
        }

        if (BindFailure().Match(bad.Message) is { Success: true } failed)
        {
            return (StatusCodes.Status400BadRequest, $"{Quote(failed.Groups["value"].Value)} is not a valid {failed.Groups["name"].Value}: give {Kind(failed.Groups["type"].Value)}.");
        }

        // "Implicit body inferred for parameter … but no body was provided." / "Required parameter "SendRequest request" was not provided from body."
        if (bad.Message.StartsWith("Implicit body", StringComparison.Ordinal) || bad.Message.EndsWith("from body.", StringComparison.Ordinal))
        {
            return (StatusCodes.Status400BadRequest, $"The request body is empty or null: send a JSON object such as {example}.");
        }

        if (MissingParameter().Match(bad.Message) is { Success: true } missing)
        {
            var name = missing.Groups["name"].Value;
            return (StatusCodes.Status400BadRequest, $"The query parameter {name} is missing: add {name}= with {Kind(missing.Groups["type"].Value)} to the address.");
        }

        return (bad.StatusCode, $"The request could not be read ({bad.Message.TrimEnd('.')}): send a well-formed request, as the README's \"Local API\" shows.");
    }

    private static string JsonSentence(JsonException json, string example)
    {
        var message = json.Message;
        if (message.Contains("maximum configured depth", StringComparison.Ordinal))
        {
            return $"The request body's JSON is nested too deeply: send one flat object such as {example}.";
        }

        // System.Text.Json reports text it cannot transcode as a value that "could not be converted", the cause inside.
        var causes = string.Join(" ", Causes(json).Select(e => e.Message));
        if (causes.Contains("UTF-8", StringComparison.Ordinal) || causes.Contains("UTF-16", StringComparison.Ordinal) || causes.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
        {
            return $"The request body is not valid Unicode text (invalid UTF-8, or an escaped lone surrogate such as \\ud800): send text only, in an object such as {example}.";
        }

        if (json.Path is "$" && message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return $"The request body must be one JSON object, not an array or a single value: send an object such as {example}.";
        }

        if (json.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) && message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return $"The request body's \"{path[2..]}\" has the wrong type: send an object such as {example}.";
        }

        return $"The request body is not valid JSON: send an object such as {example}.";
    }

    private static string NotJson(string example) =>
        $"The request body must be JSON sent with Content-Type: application/json, such as {example}.";

    private static IEnumerable<Exception> Causes(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    /// <summary>The body an endpoint takes, as an example object: <c>{"text": "…"}</c>.</summary>
    private static string Example(HttpContext context)
    {
        var type = context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        if (type is null || type == typeof(object))
        {
            return "{\"name\": \"value\"}";
        }

        var fields = type.GetProperties()
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0)
            .Select(p => $"{JsonSerializer.Serialize(LocalApi.Json.PropertyNamingPolicy!.ConvertName(p.Name))}: {ExampleValue(p.PropertyType)}");
        return "{" + string.Join(", ", fields) + "}";
    }

    private static string ExampleValue(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(bool) => "true",
        var t when t == typeof(int) || t == typeof(long) => "0",
        _ => "\"…\"",
    };

    /// <summary>What a query parameter of a given C# type takes, for a sentence.</summary>
    private static string Kind(string type) =>
        type.Contains("int", StringComparison.OrdinalIgnoreCase) || type.Contains("long", StringComparison.OrdinalIgnoreCase) ? "a whole number"
        : type.Contains("bool", StringComparison.OrdinalIgnoreCase) ? "true or false"
        : "a value of its kind";

    private static string Quote(string value) =>
        "\"" + (value.Length > 40 ? value[..40] + "…" : value) + "\"";

    /// <summary>The sentence for an error status an endpoint or the router set without writing a body.</summary>
    private static string Unanswered(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        path = path.Length > 100 ? path[..100] + "…" : path;
        return context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound when request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) =>
                $"There is no API endpoint at {path}: {Readme}.",
            StatusCodes.Status404NotFound => $"There is no page at {path}: open / for the chat window.",
            StatusCodes.Status405MethodNotAllowed when Allowed(context) is { Count: > 0 } allowed =>
                $"{path} does not take {request.Method}: use {string.Join(" or ", allowed)}.",
            StatusCodes.Status405MethodNotAllowed => $"{path} does not take {request.Method}: {Readme}.",
            StatusCodes.Status415UnsupportedMediaType => NotJson(Example(context)),
            var status => string.Create(
                CultureInfo.InvariantCulture,
                $"The request failed ({status} {ReasonPhrase(status)}): check it against the README's \"Local API\"."),
        };
    }

    /// <summary>The methods the address takes, from the routes that matched it but not its method.</summary>
    private static List<string> Allowed(HttpContext context)
    {
        var allow = context.Response.Headers.Allow.ToString();
        if (allow.Length > 0)
        {
            return [.. allow.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
        }

        return [.. context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []];
    }

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";

    /// <summary>Minimal APIs' words for a query or route value that does not parse: <c>Failed to bind parameter "int? limit" from "abc".</c></summary>
    [GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]+) (?<name>[^" ]+)" from "(?<value>.*)"\.$""", RegexOptions.Singleline)]
    private static partial Regex BindFailure();

    /// <summary>Minimal APIs' words for a missing value: <c>Required parameter "int width" was not provided from query string.</c></summary>
    [GeneratedRegex("""^Required parameter "(?<type>[^"]+) (?<name>[^" ]+)" was not provided from query string\.$""")]
    private static partial Regex MissingParameter();

    /// <summary>A request body that fails its read once more than <paramref name="limit"/> bytes have come, and remembers it.</summary>
    private sealed class LimitedBody(Stream inner, long limit) : Stream
    {
        private long _read;

        public Stream Inner => inner;

        public bool Exceeded { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            if (_read > limit)
            {
                Exceeded = true;
                throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
            }

            return read;
        }
    }
}
