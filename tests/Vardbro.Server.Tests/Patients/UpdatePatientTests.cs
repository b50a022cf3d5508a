using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Vardbro.Server.Tests.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Patients;

/// <summary>
/// <c>PATCH …/patients/{patient_id}</c> (API.md §8): each given field of first_name, last_name, phones,
/// emails and address replaces its value; ids cannot change; audited as <c>patient.update</c>.
/// </summary>
public sealed partial class UpdatePatientTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    [GeneratedRegex(@"(\d{6})")]
    private static partial Regex SixDigits();

    internal static async Task<HttpResponseMessage> PatchAsync(HttpClient client, string url, object body) =>
        await client.PatchAsync(new Uri(url, UriKind.Relative), JsonContent.Of(body as string ?? JsonSerializer.Serialize(body)));

    [Fact]
    public async Task Given_fields_replace_their_values_and_the_rest_stays()
    {
        using var client = factory.Sandbox();
        var emrs = (await client.GetJsonAsync("/api/emrs")).AsArray();
        Assert.All(emrs, e => Assert.Contains("patient_updates", e!["capabilities"]!.AsArray().Select(c => (string?)c)));
        var made = await client.PostJsonAsync($"{L01}/patients", new
        {
            first_name = "Greta", last_name = "Gammal", external_id = "195003042222",
            phones = new[] { "+46701111111" }, emails = new[] { "greta@example.com" },
            address = new { street = "Gamla vägen 1", postal_code = "111 11", city = "Uppsala", country = "SE" },
        }, HttpStatusCode.Created);
        var path = $"{L01}/patients/se_personal_number:195003042222";

        using (var response = await PatchAsync(client, path, new { phones = new[] { "+46702222222", "+46703333333" }, emails = new[] { "greta.ny@example.com" } }))
        {
            var updated = await response.JsonAsync(HttpStatusCode.OK);
            Assert.Equal(["+46702222222", "+46703333333"], updated["phones"]!.AsArray().Select(x => (string)x!));
            Assert.Equal(["greta.ny@example.com"], updated["emails"]!.AsArray().Select(x => (string)x!));
            Assert.Equal(("Greta", "Gammal", "Uppsala"), ((string?)updated["first_name"], (string?)updated["last_name"], (string?)updated["address"]!["city"]));
            Assert.Equal(((string?)made["id"], (string?)made["emr_id"], "195003042222"), ((string?)updated["id"], (string?)updated["emr_id"], (string?)updated["se_personal_number"]));
        }

        using (var response = await PatchAsync(client, path, new { first_name = "Greta", last_name = "Ny", address = new { street = "Nya gatan 2", city = "Lund" } }))
        {
            var updated = await response.JsonAsync(HttpStatusCode.OK);
            Assert.Equal("Ny", (string?)updated["last_name"]);
            Assert.Equal(("Nya gatan 2", null, "Lund"), ((string?)updated["address"]!["street"], (string?)updated["address"]!["postal_code"], (string?)updated["address"]!["city"]));
            Assert.Equal(2, updated["phones"]!.AsArray().Count);
        }

        // Read back and found by what changed; the old phone number and name find nobody.
        var read = await client.GetJsonAsync(path);
        Assert.Equal("Ny", (string?)read["last_name"]);
        Assert.Equal((string?)made["emr_id"], (string?)Assert.Single((await client.GetJsonAsync($"{L01}/patients?phone=%2B46703333333")).AsArray())!["emr_id"]);
        Assert.Empty((await client.GetJsonAsync($"{L01}/patients?phone=%2B46701111111")).AsArray());
        Assert.Empty((await client.GetJsonAsync($"{L01}/patients?last_name=gammal")).AsArray());
        Assert.Single((await client.GetJsonAsync($"{L01}/patients?first_name=greta&last_name=ny")).AsArray());

        // Empty lists and an empty address remove them.
        using (var response = await PatchAsync(client, path, new { phones = Array.Empty<string>(), emails = Array.Empty<string>(), address = new { } }))
        {
            var cleared = await response.JsonAsync(HttpStatusCode.OK);
            Assert.Empty(cleared["phones"]!.AsArray());
            Assert.Empty(cleared["emails"]!.AsArray());
            Assert.Null(cleared["address"]);
        }
    }

    [Fact]
    public async Task Ids_cannot_change_but_may_be_sent_back_unchanged()
    {
        using var client = factory.Sandbox();
        var made = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Ivar", last_name = "Idsson", external_id = "194010126672" }, HttpStatusCode.Created);
        var path = $"{L01}/patients/emr_id:{(string)made["emr_id"]!}";

        foreach (var (field, value) in new[] { ("emr_id", "pat_other"), ("id", Guid.NewGuid().ToString()), ("external_id", "198702072391"), ("se_personal_number", "198702072391"), ("nhs_number", "9434765919"), ("birth_date", "1999-01-01"), ("gender", "female") })
        {
            using var response = await PatchAsync(client, path, new JsonObject { ["first_name"] = "Ivan", [field] = value }.ToJsonString());
            await response.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", field);
        }

        Assert.Equal("Ivar", (string?)(await client.GetJsonAsync(path))["first_name"]);

        // The patient as read, with one change: what a client holding the record sends back.
        var record = (await client.GetJsonAsync(path)).AsObject();
        record["first_name"] = "Ivan";
        using (var response = await PatchAsync(client, path, record.ToJsonString()))
        {
            Assert.Equal("Ivan", (string?)(await response.JsonAsync(HttpStatusCode.OK))["first_name"]);
        }
    }

    [Fact]
    public async Task Bad_input_and_unknown_patients_are_refused_before_anything_changes()
    {
        using var client = factory.Sandbox();
        var path = $"{L01}/patients/se_personal_number:191212121212";
        foreach (var (body, code, field) in new[]
        {
            ("{}", "MISSING_REQUIRED_FIELD", "body"),
            ("""{"first_name":"  "}""", "MISSING_REQUIRED_FIELD", "first_name"),
            ("""{"phones":["inte ett nummer"]}""", "INVALID_FIELD", "phones[0]"),
            ("""{"emails":["utan-snabel-a"]}""", "INVALID_FIELD", "emails[0]"),
            ("""{"last_name":"x","phones":["+1","+2","+3","+4","+5","+6","+7","+8","+9","+10","+11"]}""", "MAX_ITEMS_EXCEEDED", "phones"),
        })
        {
            using var response = await PatchAsync(client, path, body);
            await response.ProblemAsync(HttpStatusCode.BadRequest, code, field);
        }

        Assert.Equal("Tolvan", (string?)(await client.GetJsonAsync(path))["first_name"]);
        using (var unknown = await PatchAsync(client, $"{L01}/patients/emr_id:no-such-patient", new { first_name = "X" }))
        {
            await unknown.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
        }

        using var badId = await PatchAsync(client, $"{L01}/patients/se_personal_number:191212121213", new { first_name = "X" });
        await badId.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_PATIENT_ID");
    }

    [Fact]
    public async Task The_update_is_audited_and_the_next_confirmation_code_goes_to_the_new_phone()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "update audit", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        var made = await client.PostJsonAsync($"{L02}/patients", new { first_name = "Sms", last_name = "Svensson", external_id = "198702072391", phones = new[] { "+46700000001" } }, HttpStatusCode.Created);
        using (var response = await PatchAsync(client, $"{L02}/patients/se_personal_number:198702072391", new { phones = new[] { "+46709999999" } }))
        {
            await response.JsonAsync(HttpStatusCode.OK);
        }

        var events = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray();
        var update = Assert.Single(events, e => (string?)e!["action"] == "patient.update")!;
        Assert.Equal(((string?)made["id"], "L0_2", 200), ((string?)update["resource_id"], (string?)update["care_unit_id"], (int)update["outcome_status"]!));
        Assert.Equal([(string)made["id"]!], update["patient_ids"]!.AsArray().Select(x => (string)x!));

        var slot = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general")).AsArray()[^1]!;
        var booked = await client.PostJsonAsync($"{L02}/appointments", new { start = (string?)slot["start"], end = (string?)slot["end"], patient_id = "se_personal_number:198702072391", resource_id = (string?)slot["resource_id"] }, HttpStatusCode.Created);
        var outbox = (await admin.GetJsonAsync("/api/admin/outbox")).AsArray();
        var message = outbox.First(m => (string?)m!["appointment_id"] == (string?)booked[0]!["id"])!;
        Assert.Equal("+46709999999", (string?)message["to"]);
        Assert.Matches(SixDigits(), (string)message["body"]!);
    }
}

/// <summary>The same update through the FHIR connector: a versioned PUT of the Patient the peer holds.</summary>
public sealed class FhirUpdatePatientTests(FhirEmrFixture fixture) : IClassFixture<FhirEmrFixture>, IAsyncLifetime
{
    private const string Tolvan = FhirEmrFactory.Unit + "/patients/se_personal_number:191212121212";

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_fhir_patient_gets_the_new_contacts_and_keeps_its_identifiers()
    {
        using var client = fixture.Factory.Sandbox();

        // Someone else changes the record between the read and the write once: the PUT conditional on
        // the version read is refused (412), and the update is applied again to the newer version.
        await fixture.Peer.ClearRequestsAsync();
        await fixture.Peer.FailAsync("PUT", 412, 1);
        using (var response = await UpdatePatientTests.PatchAsync(client, Tolvan, new { last_name = "Tolvansson-Ny", phones = new[] { "+46707777777" }, emails = new[] { "ny@example.com" }, address = new { street = "Nygatan 3", city = "Tolvstad" } }))
        {
            var updated = await response.JsonAsync(HttpStatusCode.OK);
            Assert.Equal((FhirPeer.Tolvan, "Tolvan", "Tolvansson-Ny", "191212121212"), ((string?)updated["emr_id"], (string?)updated["first_name"], (string?)updated["last_name"], (string?)updated["se_personal_number"]));
            Assert.Equal(["+46707777777"], updated["phones"]!.AsArray().Select(x => (string)x!));
        }

        var read = await client.GetJsonAsync(Tolvan);
        Assert.Equal(("Tolvansson-Ny", "ny@example.com", "Nygatan 3"), ((string?)read["last_name"], (string?)read["emails"]![0], (string?)read["address"]!["street"]));

        var calls = (await fixture.Peer.RequestsAsync()).Where(r => r.Url.Contains("Patient/" + FhirPeer.Tolvan, StringComparison.Ordinal)).ToList();
        var puts = calls.Where(r => r.Method == "PUT").Select(r => r.Status).ToList();
        Assert.Equal(new int?[] { 412, 200 }, puts);
        Assert.True(calls.Count(r => r.Method == "GET") >= 2, string.Join(", ", calls));

        using var emrId = await UpdatePatientTests.PatchAsync(client, Tolvan, new { first_name = "Tolle", emr_id = "someone-else" });
        await emrId.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", "emr_id");
    }
}
