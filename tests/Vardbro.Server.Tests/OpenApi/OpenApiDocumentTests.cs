using System.Text.Json;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.OpenApi;

/// <summary>
/// The served OpenAPI document must equal the committed <c>openapi.approved.json</c>, so that every
/// change of the contract shows in review. To accept a change: VARDBRO_APPROVE=1 dotnet test.
/// </summary>
public sealed class OpenApiDocumentTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private static string ApprovedPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vardbro.slnx")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "tests", "Vardbro.Server.Tests", "OpenApi", "openapi.approved.json");
    }

    [Fact]
    public async Task The_served_document_equals_the_approved_copy()
    {
        using var client = factory.CreateClient();
        var served = await client.GetJsonAsync("/openapi/v1.json");
        var text = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        var approvedPath = ApprovedPath();
        if (Environment.GetEnvironmentVariable("VARDBRO_APPROVE") == "1")
        {
            await File.WriteAllTextAsync(approvedPath, text);
        }

        var approved = File.Exists(approvedPath) ? await File.ReadAllTextAsync(approvedPath) : "";
        if (!JsonNode.DeepEquals(JsonNode.Parse(approved.Length == 0 ? "{}" : approved), served))
        {
            var received = Path.ChangeExtension(approvedPath, ".received.json");
            await File.WriteAllTextAsync(received, text);
            Assert.Fail($"The OpenAPI document changed. Compare {received} with {approvedPath}; if the change is intended, run the tests with VARDBRO_APPROVE=1.");
        }
    }

    [Fact]
    public async Task Every_operation_has_a_name_summary_and_tag()
    {
        using var client = factory.CreateClient();
        var served = await client.GetJsonAsync("/openapi/v1.json");
        var operations = served["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(o => (Path: p.Key, Method: o.Key, Op: o.Value!))).ToList();
        Assert.True(operations.Count >= 20);
        Assert.All(operations, o =>
        {
            Assert.False(string.IsNullOrEmpty((string?)o.Op["operationId"]), $"{o.Method} {o.Path} has no operationId");
            Assert.False(string.IsNullOrEmpty((string?)o.Op["summary"]), $"{o.Method} {o.Path} has no summary");
            Assert.NotEmpty(o.Op["tags"]!.AsArray());
        });
        Assert.Contains("/api/emrs/{emr}/care-units/{care_unit_id}/patients/{patient_id}", served["paths"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task A_browsable_reference_and_the_error_reference_are_served()
    {
        using var client = factory.CreateClient();
        using var page = await client.GetAsync(new Uri("/docs/reference", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        using var errors = await client.GetAsync(new Uri("/docs/errors", UriKind.Relative));
        var html = await errors.Content.ReadAsStringAsync();
        Assert.Contains("id=\"not_found\"", html, StringComparison.Ordinal);
    }
}
