using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Errors;

/// <summary>
/// A query parameter the server does not read is refused on every route (400 <c>INVALID_FIELD</c> naming
/// it), so that a misspelled filter never widens an answer; Leyr's camelCase names read as their
/// <c>snake_case</c> twins (API.md §8).
/// </summary>
public sealed partial class QueryParameterTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [GeneratedRegex(@"\{(?<name>[^}:=?]+)[^}]*\}")]
    private static partial Regex RouteParameter();

    [Fact]
    public async Task Every_api_route_refuses_a_parameter_it_does_not_read()
    {
        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Pattern: e.RoutePattern.RawText!)))
            .ToList();
        Assert.True(endpoints.Count > 40, $"Only {endpoints.Count} routes found.");

        using var sandbox = factory.Sandbox();
        using var admin = factory.Admin();
        foreach (var (method, pattern) in endpoints)
        {
            var path = RouteParameter().Replace(pattern, m => m.Groups["name"].Value switch
            {
                "emr" => "webdoc",
                "care_unit_id" => "L0_1",
                _ => "x",
            });
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path + "?patientid=1", UriKind.Relative));
            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = JsonContent.Of("{}");
            }

            var client = pattern.StartsWith("/api/admin", StringComparison.Ordinal) ? admin : sandbox;
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {pattern}: {(int)response.StatusCode} {body}");
            var problem = JsonNode.Parse(body)!;
            var refused = response.Content.Headers.ContentType?.MediaType == "application/fhir+json"

                // The FHIR routes answer the envelope as an OperationOutcome (docs/api.md, "FHIR-shaped output").
                ? problem["issue"]!.AsArray().Any(i => (string?)i!["expression"]?[0] == "patientid" && (string?)i["details"]!["coding"]![0]!["code"] == "INVALID_FIELD")
                : problem["errors"]!.AsArray().Any(e => (string?)e!["path"] == "patientid" && (string?)e["error_code"] == "INVALID_FIELD");
            Assert.True(refused, $"{method} {pattern}: {body}");
        }
    }

    [Fact]
    public async Task A_misspelled_filter_is_refused_instead_of_widening_the_list()
    {
        using var client = factory.Sandbox();
        var problem = await client.GetProblemAsync($"{L01}/appointments?patient=191212121212", HttpStatusCode.BadRequest, "INVALID_FIELD", "patient");
        Assert.Contains("patient_id", (string?)problem["errors"]![0]!["details"], StringComparison.Ordinal);
        await client.GetProblemAsync($"{L01}/resources?kind=room", HttpStatusCode.BadRequest, "INVALID_FIELD", "kind");
        await client.GetProblemAsync("/api/emrs?x=1", HttpStatusCode.BadRequest, "INVALID_FIELD", "x");

        // A known one given twice, or by both its names, is ambiguous.
        await client.GetProblemAsync($"{L01}/patients?last_name=a&last_name=b", HttpStatusCode.BadRequest, "INVALID_FIELD", "last_name");
        await client.GetProblemAsync($"{L01}/patients?last_name=a&lastName=b", HttpStatusCode.BadRequest, "INVALID_FIELD", "lastName");
    }

    [Fact]
    public async Task Leyrs_camelCase_names_filter_as_their_snake_case_twins()
    {
        using var client = factory.Sandbox();
        var lars = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Lars", last_name = "Kamelsson", external_id = "197110021834", birth_date = "1971-10-02" }, HttpStatusCode.Created);
        var larsId = (string)lars["emr_id"]!;
        var tolvan = (string)(await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212"))["emr_id"]!;

        var start = TimeProvider.System.GetUtcNow().AddDays(3).ToString("yyyy-MM-dd'T'00:00:00'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var end = TimeProvider.System.GetUtcNow().AddDays(10).ToString("yyyy-MM-dd'T'00:00:00'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?start={start}&end={end}&resource_id=1001&healthcare_service_id=L0_1-general")).AsArray();
        var camelSlots = (await client.GetJsonAsync($"{L01}/timeslots?start={start}&end={end}&resourceId=1001&healthcareServiceId=L0_1-general")).AsArray();
        Assert.Equal(slots.ToJsonString(), camelSlots.ToJsonString());
        Assert.All(camelSlots, s => Assert.Equal(("1001", "L0_1-general"), ((string?)s!["resource_id"], (string?)s["healthcare_service_id"])));

        foreach (var (patient, slot) in new[] { (larsId, slots[0]!), (tolvan, slots[2]!) })
        {
            await client.PostJsonAsync($"{L01}/appointments", new { start = (string?)slot["start"], end = (string?)slot["end"], patient_id = patient, resource_id = "1001", healthcare_service_id = "L0_1-general" }, HttpStatusCode.Created);
        }

        var all = (await client.GetJsonAsync($"{L01}/appointments")).AsArray();
        Assert.True(all.Count >= 2);
        var larsOnly = (await client.GetJsonAsync($"{L01}/appointments?patientId={larsId}")).AsArray();
        Assert.Equal(larsId, (string?)Assert.Single(larsOnly)!["patient_id"]);
        Assert.Equal(larsOnly.ToJsonString(), (await client.GetJsonAsync($"{L01}/appointments?patient_id={larsId}")).ToJsonString());
        var byResource = (await client.GetJsonAsync($"{L01}/appointments?resourceId=1001&patientId={tolvan}")).AsArray();
        Assert.All(byResource, a => Assert.Equal((tolvan, "1001"), ((string?)a!["patient_id"], (string?)a["resource_id"])));

        var found = (await client.GetJsonAsync($"{L01}/patients?firstName=lars&lastName=kamels&birthDate=1971-10-02")).AsArray();
        Assert.Equal(larsId, (string?)Assert.Single(found)!["emr_id"]);
    }
}
