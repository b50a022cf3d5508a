using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Vardbro.Connectors.Tests.Fhir;

/// <summary>A request as the stub saw it when it arrived.</summary>
public sealed record FhirAuthSeenRequest(HttpMethod Method, Uri? Uri, string? Authorization, string? ContentType, string Body);

/// <summary>Stands in for a token endpoint or a FHIR server: records each request and answers with <c>respond</c>.</summary>
public sealed class FhirAuthStub(Func<FhirAuthSeenRequest, int, Task<HttpResponseMessage>> respond) : HttpMessageHandler
{
    private readonly ConcurrentQueue<FhirAuthSeenRequest> _seen = new();
    private int _count;

    public FhirAuthStub(Func<FhirAuthSeenRequest, int, HttpResponseMessage> respond)
        : this((request, n) => Task.FromResult(respond(request, n)))
    {
    }

    public IReadOnlyList<FhirAuthSeenRequest> Seen => [.. _seen];

    public int Count => Volatile.Read(ref _count);

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    public static HttpResponseMessage Token(string accessToken, int? expiresIn = 3600) =>
        Json(HttpStatusCode.OK, expiresIn is null
            ? $$"""{"access_token":"{{accessToken}}","token_type":"Bearer"}"""
            : $$"""{"access_token":"{{accessToken}}","token_type":"Bearer","expires_in":{{expiresIn}}}""");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = "";
        if (request.Content is not null)
        {
            // Read as a stream: ReadAsStringAsync would buffer the content and hide a handler that forgot to.
            using var reader = new StreamReader(await request.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8, leaveOpen: true);
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        var seen = new FhirAuthSeenRequest(
            request.Method,
            request.RequestUri,
            request.Headers.Authorization?.ToString(),
            request.Content?.Headers.ContentType?.MediaType,
            body);
        _seen.Enqueue(seen);
        var n = Interlocked.Increment(ref _count);
        var response = await respond(seen, n);
        response.RequestMessage = request;
        return response;
    }
}

/// <summary>A body that can be read once, as a request streamed from a caller would be.</summary>
public sealed class FhirAuthOneShotStream(byte[] bytes) : MemoryStream(bytes)
{
    public override bool CanSeek => false;
}
