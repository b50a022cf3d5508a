using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Vardbro.Server.Api;
using Vardbro.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vardbro.Server.Tests.OpenApi;

/// <summary>One generated request: which operation it exercises and what it sends.</summary>
public sealed record FuzzRequest(string Method, string Template, string Url, string? Body, string? ContentType, bool Admin, string? IdempotencyKey)
{
    public override string ToString() => $"{Method} {Url} [{ContentType}] {Body}";
}

/// <summary>
/// Property-based: requests generated from the served OpenAPI document (every operation, its path,
/// query and body schema, with valid values, edge values and wrong types mixed) sent to the app.
/// Whatever is sent: no 5xx, every error in the envelope (an OperationOutcome on the FHIR routes),
/// and every status one the document lists for that operation. Bounded: <see cref="Iterations"/>
/// requests on one thread; CsCheck shrinks a failure to a small request and prints its seed.
/// </summary>
public sealed class OpenApiFuzzTests(VardbroFactory factory, ITestOutputHelper output) : IClassFixture<VardbroFactory>
{
    private const int Iterations = 2500;
    private static readonly string[] Methods = ["get", "post", "put", "patch", "delete"];
    private static readonly HashSet<string> Codes = ErrorTable.Codes.Select(c => c.Code).ToHashSet(StringComparer.Ordinal);

    private static readonly string[] Odd = ["x", " ", "%", "..", "ä", "Öström", "a'b", "a\"b", "<b>", "0", "-1", "9999999999999999999999", "\u200b", new string('z', 300), "emr_id:", ":", "foo:1"];
    private static readonly string[] Instants =
    [
        "2026-03-03T09:00:00+01:00", "2026-03-03T09:30:00+01:00", "2026-03-04T08:00:00Z", "2026-06-01T00:00:00Z", "2027-03-01T00:00:00Z",
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z", "2999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+01:00",
        "2026-03-03", "2026-03-03T09:00:00", "not a time", "2026-13-45T25:61:00Z", "",
    ];

    private static readonly string[] Dates = ["1912-12-12", "1971-10-02", "0001-01-01", "9999-12-31", "2026-02-30", "12/12/1912", "", "2026-03-05"];

    private static readonly Dictionary<string, string[]> Named = new(StringComparer.Ordinal)
    {
        ["emr"] = ["webdoc", "takecare", "nope"],
        ["care_unit_id"] = ["L0_1", "L0_2", "10", "nope"],
        ["resource_id"] = ["1001", "1002", "hsa_id:SE2321000131-E000000000001", "hsa_id:bad", "foo:1", "10-991890000019"],
        ["created_by_id"] = ["1001", "hsa_id:SE2321000131-E000000000001", "nope"],
        ["patient_id"] = ["191212121212", "se_personal_number:191212121212", "se_personal_number:191212121213", "197110021834", "emr_id:nope", "nhs_number:9434765919", "no_personal_number:26258605879"],
        ["external_id"] = ["191212121212", "se_personal_number:198702072391", "26258605879", "9434765919", "1234567890", "bad:1"],
        ["healthcare_service_id"] = ["L0_1-general", "L0_1-follow-up", "nope"],
        ["service_id"] = ["L0_1-general", "nope"],
        ["template_id"] = ["leyr_unstructured", "leyr_acute_visit", "nope"],
        ["format"] = ["application/pdf", "text/plain", "image/png", "image/jpg", "TEXT/PLAIN; charset=utf-8"],
        ["content"] = ["SGVsbG8sIHdvcmxkIQ==", "JVBERi0xLjQK", "!!!", "", "iVBORw0KGgo="],
        ["gender"] = ["male", "female", "other", "unknown", "m"],
        ["status"] = ["cancelled", "booked", "completed", "nope"],
        ["start_time"] = ["08:00", "16:00", "25:00", "8"],
        ["end_time"] = ["09:00", "07:00", "x"],
        ["phones"] = ["+46701234567", "0701234567", "abc"],
        ["emails"] = ["a@example.com", "not-an-email"],
        ["cursor"] = ["x", "eyJ9", "AAAA"],
        ["standard"] = ["fhir", "hl7"],
    };

    [Fact]
    public async Task Requests_generated_from_the_document_never_answer_5xx_or_an_undocumented_status()
    {
        using var plain = factory.CreateClient();
        var document = await plain.GetJsonAsync("/openapi/v1.json");
        var operations = document["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Where(o => Methods.Contains(o.Key)).Select(o => (Path: p.Key, Method: o.Key, Op: o.Value!)))
            .ToList();
        var documented = operations.ToDictionary(o => (o.Method.ToUpperInvariant(), o.Path), o => o.Op["responses"]!.AsObject().Select(r => r.Key).ToHashSet(StringComparer.Ordinal));
        var gen = Gen.OneOf(operations.Select(o => RequestGen(document, o.Path, o.Method, o.Op)).ToArray());

        using var sandbox = factory.Sandbox();
        using var admin = factory.Admin();
        var sent = 0;
        var statuses = new SortedDictionary<int, int>();
        await gen.SampleAsync(async request =>
        {
            sent++;
            var client = request.Template.StartsWith("/api/admin/", StringComparison.Ordinal) ? admin : request.Template.StartsWith("/api/", StringComparison.Ordinal) ? sandbox : plain;
            using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(request.Url, UriKind.Relative));
            if (request.Body is not null)
            {
                message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(request.Body));
                if (request.ContentType is not null)
                {
                    message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
                }
            }

            if (request.IdempotencyKey is not null)
            {
                message.Headers.Add("Idempotency-Key", request.IdempotencyKey);
            }

            using var response = await client.SendAsync(message);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(status < 500, $"{status}: {body}");
            Assert.True(documented[(request.Method, request.Template)].Contains(status.ToString(CultureInfo.InvariantCulture)), $"{status} is not documented for {request.Method} {request.Template}: {body}");
            if (status >= 400)
            {
                AssertEnvelope(request, response, status, body);
            }
        }, iter: Iterations, threads: 1);

        output.WriteLine($"{sent} requests over {operations.Count} operations; statuses: {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}");
        Assert.True(sent >= Iterations);
        Assert.True(statuses.Keys.Any(s => s < 300) && statuses.Keys.Count(s => s >= 400) > 2, "the generator reaches both successes and several kinds of error");
    }

    private static void AssertEnvelope(FuzzRequest request, HttpResponseMessage response, int status, string body)
    {
        var json = JsonNode.Parse(body)!;
        if (request.Template.StartsWith("/api/fhir/", StringComparison.Ordinal))
        {
            Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("OperationOutcome", (string?)json["resourceType"]);
            return;
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(status, (int)json["status"]!);
        Assert.Equal(ErrorTable.Entry(status).Code, (string?)json["code"]);
        Assert.EndsWith("#" + ErrorTable.Entry(status).Anchor, (string?)json["type"], StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty((string?)json["detail"]));
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), (string?)json["instance"]);
        Assert.All(json["errors"]!.AsArray(), e => Assert.Contains((string)e!["error_code"]!, Codes));
    }

    private static Gen<FuzzRequest> RequestGen(JsonNode document, string template, string method, JsonNode op)
    {
        var parameters = op["parameters"]?.AsArray().Select(p => Resolve(document, p)!).ToList() ?? [];
        var pathParams = parameters.Where(p => (string?)p["in"] == "path").ToList();
        var queryParams = parameters.Where(p => (string?)p["in"] == "query").ToList();

        var path = Gen.Const(template);
        foreach (var p in pathParams)
        {
            var name = (string)p["name"]!;
            path = Gen.Select(path, StringGen(document, name, p["schema"], allowEmpty: false), (t, v) => t.Replace("{" + name + "}", Segment(v), StringComparison.Ordinal));
        }

        var query = Gen.Const("");
        foreach (var p in queryParams)
        {
            var name = (string)p["name"]!;
            var value = Gen.Frequency((2, Gen.Const((string?)null)), (3, StringGen(document, name, p["schema"], allowEmpty: true).Select(v => (string?)v)));
            query = Gen.Select(query, value, (q, v) => v is null ? q : q + (q.Length == 0 ? "?" : "&") + name + "=" + Uri.EscapeDataString(v));
        }

        var url = Gen.Select(path, query, (p, q) => p + q);
        var schema = op["requestBody"]?["content"]?["application/json"]?["schema"];
        if (schema is null)
        {
            return url.Select(u => new FuzzRequest(method.ToUpperInvariant(), template, u, null, null, false, null));
        }

        var body = Gen.Frequency(
            (14, ValueGen(document, "body", schema, 0).Select(n => n?.ToJsonString())),
            (2, Gen.OneOf<string?>("{", "[]", "null", "\"x\"", "", "{\"a\":1,\"a\":2}", "{\"x\":" + new string('[', 200) + new string(']', 200) + "}", "\u00ef\u00bb\u00bf{}")),
            (2, ValueGen(document, "body", schema, 0).Select(n => Duplicate(n))));
        var contentType = Gen.Frequency((12, Gen.Const<string?>("application/json")), (1, Gen.OneOf<string?>("text/plain", "application/json; charset=latin1", null)));
        var key = Gen.Frequency((4, Gen.Const((string?)null)), (1, Gen.OneOf<string?>("k1", "k2")));
        return Gen.Select(url, body, contentType, key, (u, b, c, k) => new FuzzRequest(method.ToUpperInvariant(), template, u, b, c, false, method == "post" ? k : null));
    }

    /// <summary>The JSON text of an object with its first key given twice.</summary>
    private static string? Duplicate(JsonNode? node)
    {
        if (node is not JsonObject o || o.Count == 0)
        {
            return node?.ToJsonString();
        }

        var first = o.First();
        var text = o.ToJsonString();
        return "{" + JsonSerializer.Serialize(first.Key) + ":" + (first.Value?.ToJsonString() ?? "null") + "," + text[1..];
    }

    private static JsonNode? Resolve(JsonNode document, JsonNode? node)
    {
        while (node?["$ref"] is { } reference)
        {
            node = ((string)reference!).TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries).Aggregate((JsonNode?)document, (n, part) => n?[part.Replace("~1", "/", StringComparison.Ordinal)]);
        }

        return node;
    }

    private static List<string> Types(JsonNode? schema) => schema?["type"] switch
    {
        JsonArray a => a.Select(t => (string)t!).ToList(),
        JsonValue v => [(string)v!],
        _ => [],
    };

    private static Gen<string> StringGen(JsonNode document, string name, JsonNode? schema, bool allowEmpty)
    {
        schema = Resolve(document, schema);
        var pools = new List<(int, IGen<string>)> { (1, Gen.OneOf(allowEmpty ? Odd : [.. Odd.Where(o => o.Trim().Length > 0)])) };
        if (Named.TryGetValue(name, out var named))
        {
            // Mostly the first, valid value, so that requests get past the path to the checks behind it.
            pools.Add((12, Gen.Const(named[0])));
            pools.Add((4, Gen.OneOf(named)));
        }

        if (schema?["enum"] is JsonArray values)
        {
            pools.Add((4, Gen.OneOf(values.Select(v => (string)v!).ToArray())));
        }

        switch ((string?)schema?["format"])
        {
            case "date-time":
                pools.Add((6, Gen.OneOf(Instants)));
                break;
            case "date":
                pools.Add((6, Gen.OneOf(Dates)));
                break;
        }

        if (Types(schema).Contains("integer"))
        {
            pools.Add((6, Gen.Int[-3, 300].Select(i => i.ToString(CultureInfo.InvariantCulture))));
        }

        if (!allowEmpty)
        {
            pools = [.. pools.Select(p => (p.Item1, (IGen<string>)((Gen<string>)p.Item2).Where(s => s.Trim().Length > 0)))];
        }

        return Gen.Frequency([.. pools]);
    }

    private static Gen<JsonNode?> ValueGen(JsonNode document, string name, JsonNode? schema, int depth)
    {
        schema = Resolve(document, schema);
        var alternatives = schema?["oneOf"]?.AsArray().Select(s => Resolve(document, s)).Where(s => !Types(s).SequenceEqual(["null"])).ToList();
        if (alternatives is { Count: > 0 })
        {
            schema = alternatives[0];
        }

        var types = Types(schema);
        Gen<JsonNode?> typed;
        if (types.Contains("object") || schema?["properties"] is not null)
        {
            typed = depth > 3 ? Gen.Const<JsonNode?>(new JsonObject()) : ObjectGen(document, schema!, depth);
        }
        else if (types.Contains("array"))
        {
            typed = depth > 3
                ? Gen.Const<JsonNode?>(new JsonArray())
                : ValueGen(document, name, schema!["items"], depth + 1).Array[0, 3].Select(items => (JsonNode?)new JsonArray([.. items.Select(i => i?.DeepClone())]));
        }
        else if (types.Contains("integer"))
        {
            typed = Gen.Int[-5, 500].Select(i => (JsonNode?)JsonValue.Create(i));
        }
        else if (types.Contains("boolean"))
        {
            typed = Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b));
        }
        else if (types.Contains("string"))
        {
            typed = StringGen(document, name, schema, allowEmpty: true).Select(s => (JsonNode?)JsonValue.Create(s));
        }
        else
        {
            // An untyped field (a note's content): an object with a known or an unknown key, or something else.
            typed = Gen.OneOf<JsonNode?>(
                new JsonObject { ["unstructured"] = "The patient feels better." },
                new JsonObject { ["unstructured"] = "" },
                new JsonObject { ["anamnesis"] = "Cough", ["status"] = "Fine" },
                new JsonObject { ["nope"] = "x" },
                JsonValue.Create("text"),
                new JsonArray());
        }

        return Gen.Frequency(
            (40, typed),
            (1, Gen.Const((JsonNode?)null)),
            (1, Gen.OneOf<JsonNode?>(JsonValue.Create(12), JsonValue.Create("x"), JsonValue.Create(true), new JsonObject(), new JsonArray())));
    }

    private static Gen<JsonNode?> ObjectGen(JsonNode document, JsonNode schema, int depth)
    {
        var properties = schema["properties"]?.AsObject().ToList() ?? [];
        var required = schema["required"]?.AsArray().Select(r => (string)r!).ToHashSet(StringComparer.Ordinal) ?? [];
        var result = Gen.Const(new List<KeyValuePair<string, JsonNode?>>());
        foreach (var (key, propertySchema) in properties)
        {
            var value = ValueGen(document, key, propertySchema, depth + 1);
            var present = required.Contains(key) ? Gen.Frequency((9, Gen.Const(true)), (1, Gen.Const(false))) : Gen.Bool;
            result = Gen.Select(result, present, value, (list, p, v) => p ? [.. list, new KeyValuePair<string, JsonNode?>(key, v)] : list);
        }

        return result.Select(list =>
        {
            var o = new JsonObject();
            foreach (var (k, v) in list)
            {
                o[k] = v?.DeepClone();
            }

            return (JsonNode?)o;
        });
    }

    /// <summary>
    /// A path parameter as a client sends it. A segment of dots alone cannot be sent as a value: URI
    /// libraries remove it as a dot-segment (RFC 3986 §5.2.4) and the request reaches another route, so
    /// it is sent with a letter before it.
    /// </summary>
    private static string Segment(string value) => value.Trim('.').Length == 0 && value.Length > 0 ? "x" + value : Uri.EscapeDataString(value);
}
