using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vardbro.Server.Tests.Infrastructure;

/// <summary>Reads responses the way a client script would, and checks the error envelope.</summary>
public static class Api
{
    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body) ?? throw new InvalidOperationException("empty body");
    }

    public static async Task<JsonNode> GetJsonAsync(this HttpClient client, string url, HttpStatusCode expected = HttpStatusCode.OK)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
        return await response.JsonAsync(expected);
    }

    public static async Task<JsonNode> PostJsonAsync(this HttpClient client, string url, object body, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var content = JsonContent.Of(body as string ?? JsonSerializer.Serialize(body));
        using var response = await client.PostAsync(new Uri(url, UriKind.Relative), content);
        return await response.JsonAsync(expected);
    }

    public static async Task<JsonNode> PutJsonAsync(this HttpClient client, string url, object body, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var content = JsonContent.Of(body as string ?? JsonSerializer.Serialize(body));
        using var response = await client.PutAsync(new Uri(url, UriKind.Relative), content);
        return await response.JsonAsync(expected);
    }

    /// <summary>Asserts the envelope of API.md §4 and returns it.</summary>
    public static async Task<JsonNode> ProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string? errorCode = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrEmpty((string?)problem["code"]));
        Assert.False(string.IsNullOrEmpty((string?)problem["title"]));
        Assert.False(string.IsNullOrEmpty((string?)problem["detail"]));
        // An absolute URL of the status's anchor in the error reference, on the host the request went to.
        var type = new Uri((string)problem["type"]!, UriKind.Absolute);
        Assert.Equal("/docs/errors", type.AbsolutePath);
        Assert.Equal(response.RequestMessage?.RequestUri?.Authority ?? type.Authority, type.Authority);
        Assert.False(string.IsNullOrEmpty(type.Fragment.TrimStart('#')));
        var requestId = response.Headers.GetValues("x-request-id").Single();
        Assert.Equal(requestId, (string?)problem["instance"]);
        Assert.True(Guid.TryParse(requestId, out _));
        Assert.IsType<JsonArray>(problem["errors"]);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        if (errorCode is not null)
        {
            var codes = problem["errors"]!.AsArray().Select(e => (string?)e!["error_code"]).ToList();
            Assert.Contains(errorCode, codes);
        }

        if (path is not null)
        {
            var paths = problem["errors"]!.AsArray().Select(e => (string?)e!["path"]).ToList();
            Assert.Contains(path, paths);
        }

        return problem;
    }

    public static async Task<JsonNode> GetProblemAsync(this HttpClient client, string url, HttpStatusCode status, string? errorCode = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
        return await response.ProblemAsync(status, errorCode, path);
    }

    public static async Task<JsonNode> PostProblemAsync(this HttpClient client, string url, object body, HttpStatusCode status, string? errorCode = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var content = JsonContent.Of(body as string ?? JsonSerializer.Serialize(body));
        using var response = await client.PostAsync(new Uri(url, UriKind.Relative), content);
        return await response.ProblemAsync(status, errorCode, path);
    }
}
