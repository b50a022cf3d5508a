using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Mvc.Testing;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Errors;

/// <summary>
/// <c>/docs/errors</c> is generated from the one error table: every status and every
/// <c>error_code</c> has its own anchored section, and the envelope's <c>type</c> is an absolute URL
/// of its status's anchor on the host the client called.
/// </summary>
public sealed class ErrorReferenceTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private async Task<string> PageAsync()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(new Uri("/docs/errors", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Every_status_and_every_error_code_of_the_table_has_its_own_anchor_with_meaning_cause_and_remedy()
    {
        var html = await PageAsync();
        var anchors = ErrorTable.Statuses.Select(s => s.Anchor).Concat(ErrorTable.Codes.Select(c => c.Anchor)).ToList();
        Assert.Equal(anchors.Count, anchors.Distinct(StringComparer.Ordinal).Count());
        foreach (var anchor in anchors)
        {
            Assert.Contains($"id=\"{anchor}\"", html, StringComparison.Ordinal);
        }

        Assert.NotEqual(ErrorTable.Entry(502).Anchor, ErrorTable.Entry(504).Anchor);
        Assert.All(ErrorTable.Statuses, s => Assert.All(new[] { s.Meaning, s.Cause, s.Action }, t => Assert.False(string.IsNullOrWhiteSpace(t))));
        Assert.All(ErrorTable.Codes, c => Assert.All(new[] { c.Meaning, c.Cause, c.Action }, t => Assert.False(string.IsNullOrWhiteSpace(t))));
        Assert.Equal(3 * (ErrorTable.Statuses.Count + ErrorTable.Codes.Count), CountOf(html, "<dt>Meaning</dt>") + CountOf(html, "<dt>Typical cause</dt>") + CountOf(html, "<dt>What to do</dt>"));
    }

    [Fact]
    public void Every_error_code_the_server_can_send_is_in_the_table_once()
    {
        var codes = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToList();
        Assert.Equal(codes.Order(StringComparer.Ordinal), ErrorTable.Codes.Select(c => c.Code).Order(StringComparer.Ordinal));
        Assert.All(ErrorTable.Codes, c => Assert.All(c.StatusList, s => Assert.Contains(ErrorTable.Statuses, e => e.Status == s)));
    }

    [Fact]
    public async Task The_envelope_type_is_an_absolute_url_of_an_anchor_on_the_called_host()
    {
        var html = await PageAsync();
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://vardbro.example.test:8443") });
        using var response = await client.GetAsync(new Uri("/api/emrs", UriKind.Relative));
        var problem = await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal("https://vardbro.example.test:8443/docs/errors#unauthorized", (string?)problem["type"]);
        using var sandbox = factory.Sandbox();
        var notFound = await sandbox.GetProblemAsync("/api/no-such-endpoint", HttpStatusCode.NotFound);
        var fragment = new Uri((string)notFound["type"]!).Fragment.TrimStart('#');
        Assert.Contains($"id=\"{fragment}\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_error_responses_are_described_from_the_table()
    {
        using var client = factory.CreateClient();
        var document = await client.GetJsonAsync("/openapi/v1.json");
        var responses = document["components"]!["responses"]!.AsObject();
        Assert.Contains("/docs/errors#emr_error_504", (string?)responses["Error504"]!["description"], StringComparison.Ordinal);
        Assert.Contains("/docs/errors#emr_error_502", (string?)responses["Error502"]!["description"], StringComparison.Ordinal);
        var codes = document["components"]!["schemas"]!["Problem"]!["properties"]!["errors"]!["items"]!["properties"]!["error_code"]!["enum"]!.AsArray().Select(v => (string)v!);
        Assert.Equal(ErrorTable.Codes.Select(c => c.Code), codes);
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
