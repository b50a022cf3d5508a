using System.Diagnostics;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.OpenApi;

/// <summary>
/// The served OpenAPI document tells the whole truth by rule, for every operation (also those added
/// later): the error statuses each kind of operation can answer with the envelope, real types and
/// enums, the security scheme, the convention headers, and it is lint clean with Redocly CLI.
/// </summary>
public sealed class OpenApiTruthTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private static readonly string[] Methods = ["get", "post", "put", "patch", "delete"];

    private async Task<JsonNode> DocumentAsync()
    {
        using var client = factory.CreateClient();
        return await client.GetJsonAsync("/openapi/v1.json");
    }

    private static IEnumerable<(string Path, string Method, JsonNode Op)> Operations(JsonNode document) =>
        document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Where(o => Methods.Contains(o.Key)).Select(o => (p.Key, o.Key, o.Value!)));

    [Fact]
    public async Task Every_operation_documents_each_status_its_kind_can_answer_with_the_envelope()
    {
        var document = await DocumentAsync();
        var components = document["components"]!["responses"]!.AsObject();
        foreach (var (path, method, op) in Operations(document))
        {
            var responses = op["responses"]!.AsObject();
            var expected = new List<int> { 400 };
            if (path.StartsWith("/api/", StringComparison.Ordinal))
            {
                expected.AddRange([401, 404, 429]);
                if (!path.StartsWith("/api/admin/", StringComparison.Ordinal))
                {
                    expected.Add(403);
                }

                if (method is "post" or "put" or "patch" or "delete")
                {
                    expected.Add(409);
                }

                if (op["requestBody"] is not null)
                {
                    expected.AddRange([413, 415]);
                }

                if (method == "post")
                {
                    expected.Add(422);
                }

                if (path.StartsWith("/api/emrs/", StringComparison.Ordinal) || path.StartsWith("/api/fhir/", StringComparison.Ordinal))
                {
                    expected.AddRange([502, 503, 504]);
                }
            }
            else
            {
                Assert.Empty(op["security"]!.AsArray());
            }

            foreach (var status in expected)
            {
                var response = responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)];
                Assert.True(response is not null, $"{method} {path} does not document {status}");
                var name = ((string)response["$ref"]!).Split('/')[^1];
                var content = components[name]!["content"]!.AsObject();
                if (path.StartsWith("/api/fhir/", StringComparison.Ordinal))
                {
                    Assert.NotNull(content["application/fhir+json"]);
                }
                else
                {
                    Assert.Equal("#/components/schemas/Problem", (string?)content["application/problem+json"]!["schema"]!["$ref"]);
                }
            }

            foreach (var success in responses.Where(r => r.Key.StartsWith('2')))
            {
                Assert.NotNull(success.Value!["headers"]?["x-request-id"]);
                if (op["parameters"]?.AsArray().Any(p => (string?)p!["name"] == "cursor") == true)
                {
                    Assert.NotNull(success.Value!["headers"]?["Link"]);
                }

                if (method == "post" && path.StartsWith("/api/", StringComparison.Ordinal))
                {
                    Assert.NotNull(success.Value!["headers"]?["Idempotent-Replayed"]);
                }
            }

            var headers = op["parameters"]?.AsArray().Where(p => (string?)p!["in"] == "header").Select(p => (string)p!["name"]!).ToList() ?? [];
            if (method == "post" && path.StartsWith("/api/", StringComparison.Ordinal))
            {
                Assert.Contains("Idempotency-Key", headers);
            }

            if (path.StartsWith("/api/", StringComparison.Ordinal) && !path.StartsWith("/api/admin/", StringComparison.Ordinal))
            {
                Assert.Contains("x-actor-id", headers);
                var requirement = Assert.Single(op["security"]!.AsArray())!.AsObject();
                Assert.Equal(["x-leyr-client-id", "x-leyr-client-secret"], requirement.Select(r => r.Key).Order(StringComparer.Ordinal));
            }
        }
    }

    [Fact]
    public async Task Types_are_what_the_api_reads_and_writes()
    {
        var document = await DocumentAsync();

        // No integer-or-string anywhere (the web defaults' number handling is not the contract).
        foreach (var node in Walk(document))
        {
            if (node is JsonObject o && o["type"] is JsonArray types)
            {
                var names = types.Select(t => (string?)t).ToList();
                Assert.False(names.Contains("string") && (names.Contains("integer") || names.Contains("number")), o.ToJsonString());
            }
        }

        var schemas = document["components"]!["schemas"]!;
        Assert.Equal("integer", (string?)schemas["HealthcareServiceResponse"]!["properties"]!["duration_minutes"]!["type"]);
        Assert.Equal("integer", (string?)schemas["DocumentResponse"]!["properties"]!["size_bytes"]!["type"]);
        Assert.Equal(4, schemas["AppointmentResponse"]!["properties"]!["status"]!["enum"]!.AsArray().Count);
        Assert.Equal(5, schemas["DocumentResponse"]!["properties"]!["format"]!["enum"]!.AsArray().Count);
        Assert.Equal(5, schemas["CreateMedicalNoteRequest"]!["properties"]!["template_id"]!["enum"]!.AsArray().Count);
        Assert.Equal(7, schemas["RecurrenceBody"]!["properties"]!["weekdays"]!["items"]!["enum"]!.AsArray().Count);
        Assert.NotNull(schemas["PatientResponse"]!["properties"]!["gender"]!["enum"]);

        // Required means required: the quickstart bodies list their starred fields, nothing nullable besides.
        Assert.Equal(["first_name", "last_name"], Required(schemas["CreatePatientRequest"]!));
        Assert.Equal(["end", "patient_id", "start"], Required(schemas["BookAppointmentRequest"]!));
        Assert.Empty(Required(schemas["UpdateAppointmentRequest"]!));
        Assert.Equal(["content", "created_by_id", "template_id", "title"], Required(schemas["CreateMedicalNoteRequest"]!));
        foreach (var name in new[] { "CreatePatientRequest", "BookAppointmentRequest", "UpdateAppointmentRequest", "CreateMedicalNoteRequest", "CreateScheduleRequest", "UploadDocumentSchema" })
        {
            Assert.NotEmpty(schemas[name]!["examples"]!.AsArray());
        }

        foreach (var (path, _, op) in Operations(document))
        {
            foreach (var parameter in op["parameters"]?.AsArray() ?? [])
            {
                var name = (string)parameter!["name"]!;
                var schema = parameter["schema"]!;
                if (name is "limit" or "_count")
                {
                    Assert.Equal("integer", (string?)schema["type"]);
                }
                else if (name is "start" or "end" or "from" or "to" or "updated_since")
                {
                    Assert.True((string?)schema["format"] == "date-time", $"{path} {name}");
                }
                else if (name == "birth_date")
                {
                    Assert.Equal("date", (string?)schema["format"]);
                }
            }
        }

        var schemes = document["components"]!["securitySchemes"]!.AsObject();
        Assert.Equal("header", (string?)schemes["x-leyr-client-id"]!["in"]);
        Assert.Equal("header", (string?)schemes["x-leyr-client-secret"]!["in"]);
    }

    [Fact]
    public async Task The_served_document_is_lint_clean_with_redocly()
    {
        var redocly = Path.Combine(RepositoryRoot(), "tests", "openapi-tools", "node_modules", ".bin", "redocly");
        Assert.True(File.Exists(redocly), $"Redocly CLI is not installed: run tests/openapi-tools/install.sh (test.sh does).");
        var document = await DocumentAsync();
        var file = Path.Combine(Path.GetTempPath(), $"vardbro-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, document.ToJsonString());
        try
        {
            var start = new ProcessStartInfo(redocly, ["lint", file, "--format=json"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["REDOCLY_TELEMETRY"] = "off";
            start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var output = await stdout;
            var json = JsonNode.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..])!;
            var totals = json["totals"]!;
            Assert.True(process.ExitCode == 0 && (int)totals["errors"]! == 0 && (int)totals["warnings"]! == 0,
                $"redocly lint: {totals.ToJsonString()}\n{string.Join("\n", json["problems"]!.AsArray().Select(p => $"{p!["ruleId"]}: {p["message"]} at {p["location"]?[0]?["pointer"]}"))}\n{await stderr}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static List<string> Required(JsonNode schema) =>
        schema["required"]?.AsArray().Select(r => (string)r!).Order(StringComparer.Ordinal).ToList() ?? [];

    private static IEnumerable<JsonNode> Walk(JsonNode? node)
    {
        if (node is null)
        {
            yield break;
        }

        yield return node;
        var children = node switch
        {
            JsonObject o => o.Select(p => p.Value),
            JsonArray a => a.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children)
        {
            foreach (var n in Walk(child))
            {
                yield return n;
            }
        }
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vardbro.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
