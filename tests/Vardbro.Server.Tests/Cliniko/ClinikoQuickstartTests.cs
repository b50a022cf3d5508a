using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Cliniko;

/// <summary>Leyr's quickstarts over HTTP, with the EMR served from Cliniko (the peer).</summary>
public sealed class ClinikoQuickstartTests(ClinikoEmrFixture fixture) : IClassFixture<ClinikoEmrFixture>, IAsyncLifetime
{
    private const string Unit = ClinikoEmrFactory.Unit;
    private const string Tolvan = Unit + "/patients/se_personal_number:" + ClinikoPeer.TolvanPersonalNumber;

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_emr_says_it_is_served_by_cliniko_without_master_data_writes()
    {
        using var client = fixture.Factory.Sandbox();
        var webdoc = (await client.GetJsonAsync("/api/emrs")).AsArray().Single(e => (string)e!["code"]! == "webdoc")!;
        Assert.Equal("cliniko", (string)webdoc["connector"]!);
        var capabilities = webdoc["capabilities"]!.AsArray().Select(c => (string)c!).ToList();
        Assert.Contains("appointments", capabilities);
        Assert.Contains("documents", capabilities);
        Assert.DoesNotContain("master_data", capabilities);

        using var admin = fixture.Factory.Admin();
        using (var response = await admin.PostAsync(new Uri("/api/admin/emrs/webdoc/care-units", UriKind.Relative), JsonContent.Of("""{"id":"north","name":"Norr","time_zone":"Europe/Stockholm"}""")))
        {
            await response.ProblemAsync(HttpStatusCode.BadRequest, "NOT_SUPPORTED");
        }

        using (var response = await client.PostAsync(new Uri($"{Unit}/resources/{ClinikoPeer.Anna}/schedules", UriKind.Relative), JsonContent.Of("""{"start":"2030-01-07T08:00:00+01:00","end":"2030-01-07T12:00:00+01:00"}""")))
        {
            await response.ProblemAsync(HttpStatusCode.BadRequest, "NOT_SUPPORTED");
        }
    }

    [Fact]
    public async Task From_care_units_to_a_cancelled_booking_a_note_and_a_document()
    {
        using var client = fixture.Factory.Sandbox();

        // Show Doctor's Availability.
        var unit = (await client.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray().Single(u => (string)u!["id"]! == ClinikoPeer.Business)!;
        Assert.Equal(("Vårdcentralen Tolvan", "Europe/Stockholm"), ((string)unit["name"]!, (string)unit["time_zone"]!));
        var resources = (await client.GetJsonAsync($"{Unit}/resources")).AsArray();
        Assert.Equal("Anna Lindqvist", (string)resources.Single(r => (string)r!["id"]! == ClinikoPeer.Anna)!["name"]!);
        Assert.DoesNotContain(resources, r => (string)r!["id"]! == ClinikoPeer.NotAtBusiness);
        var services = (await client.GetJsonAsync($"{Unit}/healthcare-services")).AsArray();
        Assert.Equal(30, (int)services.Single(s => (string)s!["id"]! == ClinikoPeer.Nybesok)!["duration_minutes"]!);
        var slotsUrl = $"{Unit}/timeslots?resource_id={ClinikoPeer.Anna}&healthcare_service_id={ClinikoPeer.Nybesok}";
        var slots = (await client.GetJsonAsync(slotsUrl)).AsArray();
        Assert.True(slots.Count > 20, $"Only {slots.Count} timeslots.");
        var (first, later) = (slots[0]!, slots[4]!);

        // Find or Get Patient; Create Patient.
        var found = Assert.Single((await client.GetJsonAsync($"{Unit}/patients?last_name=tolv")).AsArray())!;
        Assert.Equal(ClinikoPeer.Tolvan, (string)found["emr_id"]!);
        Assert.Equal((string)found["id"]!, (string)(await client.GetJsonAsync(Tolvan))["id"]!);
        var elin = new { first_name = "Elin", last_name = "Sjöberg", external_id = "se_personal_number:198702072391", phones = new[] { "+46701234567" } };
        var created = await client.PostJsonAsync($"{Unit}/patients", elin, HttpStatusCode.Created);
        Assert.Equal((string)created["id"]!, (string)(await client.PostJsonAsync($"{Unit}/patients", elin, HttpStatusCode.OK))["id"]!);
        Assert.Equal("1987-02-07", (string)created["birth_date"]!);

        // Book an Appointment: the slot disappears and cannot be booked again.
        var booking = new { start = (string)first["start"]!, end = (string)first["end"]!, patient_id = "se_personal_number:198702072391", resource_id = ClinikoPeer.Anna, healthcare_service_id = ClinikoPeer.Nybesok, comment = "Ont i halsen" };
        var appointment = Assert.Single((await client.PostJsonAsync($"{Unit}/appointments", booking, HttpStatusCode.Created)).AsArray())!;
        Assert.Equal(("booked", "Ont i halsen"), ((string)appointment["status"]!, (string)appointment["comment"]!));
        var id = (string)appointment["id"]!;
        Assert.DoesNotContain((await client.GetJsonAsync(slotsUrl)).AsArray(), s => (string)s!["start"]! == (string)first["start"]!);
        await client.PostProblemAsync($"{Unit}/appointments", booking, HttpStatusCode.Conflict, "NO_TIMESLOTS_AVAILABLE");
        Assert.Equal(id, (string)Assert.Single((await client.GetJsonAsync($"{Unit}/appointments?patient_id=se_personal_number:198702072391")).AsArray())!["id"]!);

        // Reschedule: the new slot is taken, the old one is free again.
        var moved = await PatchAsync(client, $"{Unit}/appointments/{id}", new JsonObject { ["start"] = (string)later["start"]!, ["end"] = (string)later["end"]! });
        Assert.Equal(((string)later["start"]!, "booked"), ((string)moved["start"]!, (string)moved["status"]!));
        var afterMove = (await client.GetJsonAsync(slotsUrl)).AsArray();
        Assert.Contains(afterMove, s => (string)s!["start"]! == (string)first["start"]!);
        Assert.DoesNotContain(afterMove, s => (string)s!["start"]! == (string)later["start"]!);

        // Cancel (PATCH …/cancel in Cliniko): the slot returns; cancelling twice is a conflict.
        Assert.Equal("cancelled", (string)(await PatchAsync(client, $"{Unit}/appointments/{id}", new JsonObject { ["status"] = "cancelled", ["comment"] = "Frisk" }))["status"]!);
        Assert.Contains((await client.GetJsonAsync(slotsUrl)).AsArray(), s => (string)s!["start"]! == (string)later["start"]!);
        using (var twice = await client.PatchAsync(new Uri($"{Unit}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}""")))
        {
            await twice.ProblemAsync(HttpStatusCode.Conflict);
        }

        var cliniko = (await fixture.Peer.ApiAsync(HttpMethod.Get, "individual_appointments/" + id))!.Value;
        Assert.Equal(50, cliniko.GetProperty("cancellation_reason").GetInt32());

        // A note, written as a draft treatment note.
        var note = new { template_id = "leyr_unstructured", title = "Telefonkontakt", created_by_id = ClinikoPeer.Anna, content = new { unstructured = "Ringde om provsvar.\nÅterkommer." } };
        var written = await client.PostJsonAsync($"{Tolvan}/medical-notes", note, HttpStatusCode.Created);
        Assert.False((bool)written["signed"]!);
        var read = await client.GetJsonAsync($"{Tolvan}/medical-notes/{(string)written["id"]!}");
        Assert.Equal(("Telefonkontakt", "Ringde om provsvar.\nÅterkommer."), ((string)read["title"]!, (string)read["content"]!["unstructured"]!));
        Assert.True((await fixture.Peer.ApiAsync(HttpMethod.Get, "treatment_notes/" + (string)written["id"]!))!.Value.GetProperty("draft").GetBoolean());
        await client.PostProblemAsync($"{Tolvan}/medical-notes", new { template_id = "leyr_care_status", title = "Status", created_by_id = ClinikoPeer.Anna, content = new { status = "Stabil" } }, HttpStatusCode.BadRequest, "NOT_SUPPORTED");

        // A document: uploaded through the presigned post, downloaded through the content URL, same bytes.
        var pdf = Encoding.ASCII.GetBytes("%PDF-1.4\n").Concat(RandomNumberGenerator.GetBytes(100_000)).Concat(Encoding.ASCII.GetBytes("\n%%EOF\n")).ToArray();
        var upload = new JsonObject { ["content"] = Convert.ToBase64String(pdf), ["format"] = "application/pdf", ["title"] = "Provsvar", ["type"] = "Lab Result", ["created_by_id"] = ClinikoPeer.Anna }.ToJsonString();
        using var response = await client.PostAsync(new Uri($"{Tolvan}/documents", UriKind.Relative), JsonContent.Of(upload));
        var document = await response.JsonAsync(HttpStatusCode.Created);
        var sha = Convert.ToHexStringLower(SHA256.HashData(pdf));
        Assert.Equal(sha, (string)document["sha256"]!);
        var listed = Assert.Single((await client.GetJsonAsync($"{Tolvan}/documents")).AsArray())!;
        Assert.Equal(("Provsvar", sha, pdf.Length), ((string)listed["title"]!, (string)listed["sha256"]!, (int)listed["size_bytes"]!));
        Assert.Equal(pdf, await client.GetByteArrayAsync(new Uri($"{Tolvan}/documents/{(string)document["id"]!}/content", UriKind.Relative)));
    }

    [Fact]
    public async Task A_booking_made_in_clinikos_own_ui_takes_the_slot()
    {
        using var client = fixture.Factory.Sandbox();
        var slotsUrl = $"{Unit}/timeslots?resource_id={ClinikoPeer.Anna}&healthcare_service_id={ClinikoPeer.Nybesok}";
        var slot = (await client.GetJsonAsync(slotsUrl)).AsArray()[2]!;
        await fixture.Peer.BookDirectlyAsync(DateTimeOffset.Parse((string)slot["start"]!, System.Globalization.CultureInfo.InvariantCulture), ClinikoPeer.Tolvan, ClinikoPeer.Anna, ClinikoPeer.Nybesok);
        var booking = new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = ClinikoPeer.Tolvan, resource_id = ClinikoPeer.Anna, healthcare_service_id = ClinikoPeer.Nybesok };
        await client.PostProblemAsync($"{Unit}/appointments", booking, HttpStatusCode.Conflict, "NO_TIMESLOTS_AVAILABLE");
    }

    private static async Task<JsonNode> PatchAsync(HttpClient client, string url, JsonObject body)
    {
        using var response = await client.PatchAsync(new Uri(url, UriKind.Relative), JsonContent.Of(body.ToJsonString()));
        return await response.JsonAsync(HttpStatusCode.OK);
    }
}
