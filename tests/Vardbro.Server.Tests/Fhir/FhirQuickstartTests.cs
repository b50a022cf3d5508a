using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>The quickstart flows over HTTP, with the EMR served from a FHIR server of each kind the peer imitates.</summary>
public abstract class FhirQuickstartTests(FhirEmrFixture fixture) : IAsyncLifetime
{
    private const string Unit = FhirEmrFactory.Unit;
    private const string Tolvan = Unit + "/patients/se_personal_number:191212121212";

    protected FhirEmrFixture Fixture => fixture;

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_emr_says_it_is_served_by_the_fhir_connector()
    {
        using var client = fixture.Factory.Sandbox();
        var emrs = (await client.GetJsonAsync("/api/emrs")).AsArray();
        var webdoc = emrs.Single(e => (string)e!["code"]! == "webdoc")!;
        Assert.Equal("fhir", (string)webdoc["connector"]!);
        Assert.Contains("appointments", webdoc["capabilities"]!.AsArray().Select(c => (string)c!));
        var units = (await client.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray();
        Assert.Equal("Vårdcentralen Tolvan", (string)units.Single(u => (string)u!["id"]! == FhirPeer.CareUnit)!["name"]!);
    }

    [Fact]
    public async Task Find_or_get_patient()
    {
        using var client = fixture.Factory.Sandbox();
        var found = (await client.GetJsonAsync($"{Unit}/patients?last_name=tolvans")).AsArray();
        var tolvan = Assert.Single(found)!;
        Assert.Equal(FhirPeer.Tolvan, (string)tolvan["emr_id"]!);
        Assert.Equal("191212121212", (string)tolvan["se_personal_number"]!);

        var byNumber = await client.GetJsonAsync(Tolvan);
        var byEmrId = await client.GetJsonAsync($"{Unit}/patients/emr_id:{FhirPeer.Tolvan}");
        Assert.Equal((string)tolvan["id"]!, (string)byNumber["id"]!);
        Assert.Equal((string)tolvan["id"]!, (string)byEmrId["id"]!);
        Assert.Equal(["+46001234567"], byNumber["phones"]!.AsArray().Select(p => (string)p!));
        await client.GetProblemAsync($"{Unit}/patients/se_personal_number:198702072391", HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
    }

    [Fact]
    public async Task Create_patient_once()
    {
        using var client = fixture.Factory.Sandbox();
        var body = new { first_name = "Elin", last_name = "Sjöberg", external_id = "se_personal_number:198702072391", phones = new[] { "+46701234567" } };
        var created = await client.PostJsonAsync($"{Unit}/patients", body, HttpStatusCode.Created);
        var again = await client.PostJsonAsync($"{Unit}/patients", body, HttpStatusCode.OK);
        Assert.Equal((string)created["id"]!, (string)again["id"]!);
        Assert.Equal("1987-02-07", (string)created["birth_date"]!);
        Assert.Equal(FhirPeer.CareUnit, (string)created["care_unit_id"]!);
        var read = await client.GetJsonAsync($"{Unit}/patients/se_personal_number:198702072391");
        Assert.Equal((string)created["emr_id"]!, (string)read["emr_id"]!);
    }

    [Fact]
    public async Task Concurrent_identical_creates_make_one_patient()
    {
        // On a server without conditional create (oracle) the look-then-create is serialized through the server's store.
        const string Nils = """{"first_name":"Nils","last_name":"Öhman","external_id":"se_personal_number:195008121856"}""";
        var clients = Enumerable.Range(0, 8).Select(_ => fixture.Factory.Sandbox()).ToList();
        try
        {
            var answers = await Task.WhenAll(clients.Select(async c =>
            {
                using var response = await c.PostAsync(new Uri($"{Unit}/patients", UriKind.Relative), JsonContent.Of(Nils));
                var status = response.StatusCode;
                return (status, EmrId: (string)(await response.JsonAsync(status))["emr_id"]!);
            }));
            Assert.Single(answers, a => a.status == HttpStatusCode.Created);
            Assert.All(answers, a => Assert.Contains(a.status, new[] { HttpStatusCode.Created, HttpStatusCode.OK }));
            Assert.Single(answers.Select(a => a.EmrId).Distinct());
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Availability_then_booking_then_cancelling_frees_the_slot()
    {
        using var client = fixture.Factory.Sandbox();
        var slotsUrl = $"{Unit}/timeslots?resource_id={FhirPeer.Anna}";
        var slots = (await client.GetJsonAsync(slotsUrl)).AsArray();
        Assert.True(slots.Count > 20);
        var first = slots[0]!;
        var booking = new { start = (string)first["start"]!, end = (string)first["end"]!, patient_id = "se_personal_number:191212121212", resource_id = FhirPeer.Anna, comment = "Ont i halsen" };
        var appointment = Assert.Single((await client.PostJsonAsync($"{Unit}/appointments", booking, HttpStatusCode.Created)).AsArray())!;
        Assert.Equal("booked", (string)appointment["status"]!);
        var id = (string)appointment["id"]!;

        var after = (await client.GetJsonAsync(slotsUrl)).AsArray();
        Assert.DoesNotContain(after, s => (string)s!["start"]! == (string)first["start"]!);
        await client.PostProblemAsync($"{Unit}/appointments", booking, HttpStatusCode.Conflict, "NO_TIMESLOTS_AVAILABLE");

        var listed = (await client.GetJsonAsync($"{Unit}/appointments?patient_id=se_personal_number:191212121212")).AsArray();
        Assert.Equal(id, (string)Assert.Single(listed)!["id"]!);

        using (var cancel = await client.PatchAsync(new Uri($"{Unit}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}""")))
        {
            Assert.Equal("cancelled", (string)(await cancel.JsonAsync(HttpStatusCode.OK))["status"]!);
        }

        var back = (await client.GetJsonAsync(slotsUrl)).AsArray();
        Assert.Contains(back, s => (string)s!["start"]! == (string)first["start"]!);
    }

    [Fact]
    public async Task Write_a_note_and_attach_a_document()
    {
        using var client = fixture.Factory.Sandbox();
        var note = new { template_id = "leyr_unstructured", title = "Telefonkontakt", created_by_id = FhirPeer.Anna, content = new { unstructured = "Ringde om provsvar." } };
        var created = await client.PostJsonAsync($"{Tolvan}/medical-notes", note, HttpStatusCode.Created);
        Assert.False((bool)created["signed"]!);
        var read = await client.GetJsonAsync($"{Tolvan}/medical-notes/{(string)created["id"]!}");
        Assert.Equal("Ringde om provsvar.", (string)read["content"]!["unstructured"]!);

        var pdf = Encoding.ASCII.GetBytes("%PDF-1.4\n").Concat(RandomNumberGenerator.GetBytes(100_000)).Concat(Encoding.ASCII.GetBytes("\n%%EOF\n")).ToArray();
        var upload = new JsonObject { ["content"] = Convert.ToBase64String(pdf), ["format"] = "application/pdf", ["title"] = "Provsvar", ["type"] = "Lab Result", ["created_by_id"] = FhirPeer.Anna }.ToJsonString();
        using var response = await client.PostAsync(new Uri($"{Tolvan}/documents", UriKind.Relative), JsonContent.Of(upload));
        var document = await response.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(pdf)), (string)document["sha256"]!);
        var bytes = await client.GetByteArrayAsync(new Uri($"{Tolvan}/documents/{(string)document["id"]!}/content", UriKind.Relative));
        Assert.Equal(pdf, bytes);
    }
}

/// <summary>Medplum's lenient server (slot-update booking).</summary>
public sealed class DefaultFhirQuickstartTests(FhirEmrFixture fixture) : FhirQuickstartTests(fixture), IClassFixture<FhirEmrFixture>;

/// <summary>Oracle Health Millennium (appointment-with-slot booking, its search rules, its master data kept in the EHR).</summary>
public sealed class OracleFhirQuickstartTests(OracleFhirEmrFixture fixture) : FhirQuickstartTests(fixture), IClassFixture<OracleFhirEmrFixture>
{
    [Fact]
    public async Task Master_data_admin_is_not_supported_and_writes_nothing()
    {
        using var admin = Fixture.Factory.Admin();
        await admin.PostProblemAsync("/api/admin/emrs/webdoc/care-units", new { id = "north", name = "Vårdcentralen Norr", time_zone = "Europe/Oslo" }, HttpStatusCode.BadRequest, "NOT_SUPPORTED", "emr");
        await admin.PostProblemAsync($"/api/admin/emrs/webdoc/care-units/{FhirPeer.CareUnit}/resources", new { id = "olle-nord", name = "Olle Nord", kind = "practitioner" }, HttpStatusCode.BadRequest, "NOT_SUPPORTED", "emr");
        await admin.PostProblemAsync($"/api/admin/emrs/webdoc/care-units/{FhirPeer.CareUnit}/healthcare-services", new { id = "video", name = "Video Visit", duration_minutes = 20 }, HttpStatusCode.BadRequest, "NOT_SUPPORTED", "emr");
        Assert.DoesNotContain(await Fixture.Peer.RequestsAsync(), r => r.Method is "PUT" or "POST" or "PATCH" or "DELETE");
    }
}

/// <summary>An Epic-style server (find-book booking).</summary>
public sealed class EpicFhirQuickstartTests(EpicFhirEmrFixture fixture) : FhirQuickstartTests(fixture), IClassFixture<EpicFhirEmrFixture>;
