using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// Leyr's FHIR switches (API.md §8): <c>x-leyr-standard: fhir</c> or <c>standard=fhir</c> on a GET under
/// <c>/api/emrs/…</c> answers exactly what the <c>/api/fhir/…</c> twin answers; another value is refused
/// with Leyr's message.
/// </summary>
public sealed partial class FhirSwitchTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    [System.Text.RegularExpressions.GeneratedRegex("^(\\{\"resourceType\":\"Bundle\",\"id\":\")[0-9a-f]{32}")]
    private static partial System.Text.RegularExpressions.Regex BundleId();

    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private sealed record Answer(HttpStatusCode Status, string? ContentType, string Body, string? Link);

    private static async Task<Answer> GetAsync(HttpClient client, string url, string? header = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, UriKind.Relative));
        if (header is not null)
        {
            request.Headers.Add("x-leyr-standard", header);
        }

        using var response = await client.SendAsync(request);
        var requestId = response.Headers.GetValues("x-request-id").Single();

        // The request id (an error's instance) and a Bundle's own id are the parts that differ between two requests.
        var body = BundleId().Replace((await response.Content.ReadAsStringAsync()).Replace(requestId, "<request-id>", StringComparison.Ordinal), "$1<bundle-id>");
        var link = response.Headers.TryGetValues("Link", out var links) ? links.Single() : null;
        return new Answer(response.StatusCode, response.Content.Headers.ContentType?.ToString(), body, link);
    }

    private static string Fhir(string path) => "/api/fhir" + path["/api".Length..];

    private static string WithQuery(string path, string query) => path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;

    [Fact]
    public async Task Every_read_with_a_switch_answers_what_its_fhir_twin_answers()
    {
        using var client = factory.Sandbox();
        var tolvan = await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        var patient = $"{L01}/patients/emr_id:{(string)tolvan["emr_id"]!}";
        var note = await client.PostJsonAsync($"{patient}/medical-notes", new { template_id = "leyr_unstructured", title = "Besök", created_by_id = "1001", content = new { unstructured = "Mår bra." } }, HttpStatusCode.Created);
        var document = await client.PostJsonAsync($"{patient}/documents", new { content = Convert.ToBase64String("Hej"u8.ToArray()), format = "text/plain", title = "Brev", type = "Letter", created_by_id = "1001" }, HttpStatusCode.Created);
        var start = TimeProvider.System.GetUtcNow().AddDays(2).ToString("yyyy-MM-dd'T'00:00:00'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var end = TimeProvider.System.GetUtcNow().AddDays(9).ToString("yyyy-MM-dd'T'00:00:00'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var slot = (await client.GetJsonAsync($"{L01}/timeslots?start={start}&end={end}&resource_id=1001&healthcare_service_id=L0_1-general")).AsArray()[0]!;
        var booked = await client.PostJsonAsync($"{L01}/appointments", new { start = (string?)slot["start"], end = (string?)slot["end"], patient_id = (string?)tolvan["emr_id"], resource_id = "1001", healthcare_service_id = "L0_1-general" }, HttpStatusCode.Created);
        var appointmentId = (string)booked[0]!["id"]!;

        string[] reads =
        [
            L01,
            $"{L01}/patients?last_name=tolv",
            $"{L01}/patients?last_name=tolv&limit=1",
            $"{L01}/patients/se_personal_number:191212121212",
            $"{L01}/patients/emr_id:no-such-patient",
            $"{L01}/patients/foo:1",
            $"{L01}/patients?limit=1",
            $"{L01}/resources",
            $"{L01}/resources/1001",
            $"{L01}/healthcare-services",
            $"{L01}/timeslots?start={start}&end={end}&resource_id=1001",
            $"{L01}/appointments?patient_id={(string)tolvan["emr_id"]!}",
            $"{L01}/appointments/{appointmentId}",
            $"/api/emrs/webdoc/appointments/{appointmentId}",
            $"{patient}/medical-notes",
            $"{patient}/medical-notes/{(string)note["id"]!}",
            $"{patient}/documents",
            $"{patient}/documents/{(string)document["id"]!}",
            "/api/emrs/webdoc/care-units/no-such-unit/resources",
        ];
        foreach (var read in reads)
        {
            var twin = await GetAsync(client, Fhir(read));
            Assert.StartsWith("application/fhir+json", twin.ContentType, StringComparison.Ordinal);
            Assert.Equal(twin, await GetAsync(client, read, header: "fhir"));
            Assert.Equal(twin, await GetAsync(client, WithQuery(read, "standard=fhir")));
        }

        // Without a switch the same route answers Vardbro's JSON.
        var plain = await GetAsync(client, $"{L01}/patients/se_personal_number:191212121212");
        Assert.StartsWith("application/json", plain.ContentType, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hl7", null, "x-leyr-standard")]
    [InlineData("FHIR", null, "x-leyr-standard")]
    [InlineData(null, "json", "standard")]
    [InlineData(null, "", "standard")]
    public async Task Another_value_is_refused_with_Leyrs_message(string? header, string? query, string path)
    {
        using var client = factory.Sandbox();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{L01}/resources" + (query is null ? "" : $"?standard={query}"), UriKind.Relative));
        if (header is not null)
        {
            request.Headers.Add("x-leyr-standard", header);
        }

        using var response = await client.SendAsync(request);
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", path);
        Assert.Equal("value is not a valid enumeration member; permitted: 'fhir'", (string?)problem["errors"]![0]!["details"]);
    }

    [Fact]
    public async Task A_wrong_value_from_an_unknown_client_is_first_a_401()
    {
        using var anonymous = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{L01}/resources", UriKind.Relative));
        request.Headers.Add("x-leyr-standard", "hl7");
        using var response = await anonymous.SendAsync(request);
        await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Writes_with_the_header_as_Leyrs_guides_send_it_answer_plain_json()
    {
        using var client = factory.Sandbox();
        client.DefaultRequestHeaders.Add("x-leyr-standard", "fhir");
        using var content = JsonContent.Of("""{"first_name":"Rubrik","last_name":"Huvudsson","external_id":"198702072391"}""");
        using var response = await client.PostAsync(new Uri($"{L01}/patients", UriKind.Relative), content);
        var created = await response.JsonAsync(HttpStatusCode.Created);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Huvudsson", (string?)created["last_name"]);
    }
}
