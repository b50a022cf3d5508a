using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Audit;

public sealed class AuditTrailTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private async Task<(HttpClient Client, string ClientId)> NewClientAsync()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "audit test", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        var id = (string)created["client_id"]!;
        return (factory.WithCredentials(id, (string)created["client_secret"]!), id);
    }

    private async Task<JsonArray> EventsAsync(string query)
    {
        using var admin = factory.Admin();
        return (await admin.GetJsonAsync($"/api/admin/audit?{query}")).AsArray();
    }

    [Fact]
    public async Task Each_patient_read_search_and_create_writes_one_event_before_the_response()
    {
        var (client, clientId) = await NewClientAsync();
        using var owned = client;
        client.DefaultRequestHeaders.Add("x-actor-id", "SE2321000131-E000000000101");

        var found = await client.GetJsonAsync($"{L01}/patients?last_name=tolvansson");
        var tolvanId = (string)found[0]!["id"]!;
        // No waiting: the event is committed before the response is sent.
        var events = await EventsAsync($"client_id={clientId}");
        var search = Assert.Single(events);
        Assert.Equal("patient.search", (string?)search!["action"]);
        Assert.Equal([tolvanId], search["patient_ids"]!.AsArray().Select(x => (string)x!));
        Assert.Equal(200, (int)search["outcome_status"]!);
        Assert.Equal("SE2321000131-E000000000101", (string?)search["actor_id"]);
        Assert.Equal("webdoc", (string?)search["emr"]);
        Assert.Equal("L0_1", (string?)search["care_unit_id"]);

        await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        var created = await client.PostJsonAsync($"{L01}/patients", """{"first_name":"Nils","last_name":"Audit","external_id":"195008121856"}""", HttpStatusCode.Created);
        await client.GetProblemAsync($"{L01}/patients/emr_id:missing", HttpStatusCode.NotFound, "NOT_FOUND");

        events = await EventsAsync($"client_id={clientId}");
        Assert.Equal(["patient.search", "patient.read", "patient.create", "patient.read"], events.Select(e => (string)e!["action"]!));
        Assert.Equal(tolvanId, (string?)events[1]!["resource_id"]);
        Assert.Equal((string?)created["id"], (string?)events[2]!["resource_id"]);
        Assert.Equal(201, (int)events[2]!["outcome_status"]!);
        Assert.Equal(404, (int)events[3]!["outcome_status"]!);
        Assert.Empty(events[3]!["patient_ids"]!.AsArray());
        Assert.All(events, e => Assert.True(Guid.TryParse((string?)e!["request_id"], out _)));

        // The trail names patients by Vardbro id only: no personal numbers or names.
        var text = events.ToJsonString();
        Assert.DoesNotContain("191212121212", text, StringComparison.Ordinal);
        Assert.DoesNotContain("195008121856", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Tolvan", text, StringComparison.Ordinal);

        var byPatient = await EventsAsync($"patient_id={tolvanId}&client_id={clientId}");
        Assert.Equal(2, byPatient.Count);
    }

    [Fact]
    public async Task Non_patient_endpoints_write_no_events()
    {
        var (client, clientId) = await NewClientAsync();
        using var owned = client;
        await client.GetJsonAsync("/api/emrs");
        await client.GetJsonAsync($"{L01}/resources");
        Assert.Empty(await EventsAsync($"client_id={clientId}"));
    }

    [Fact]
    public async Task The_audit_list_pages_with_a_cursor()
    {
        var (client, clientId) = await NewClientAsync();
        using var owned = client;
        for (var i = 0; i < 5; i++)
        {
            await client.GetJsonAsync($"{L01}/patients?first_name=tolvan");
        }

        using var admin = factory.Admin();
        using var first = await admin.GetAsync(new Uri($"/api/admin/audit?client_id={clientId}&limit=3", UriKind.Relative));
        var page1 = (await first.JsonAsync(HttpStatusCode.OK)).AsArray();
        Assert.Equal(3, page1.Count);
        var next = first.Headers.GetValues("Link").Single().Split(';')[0].Trim('<', '>');
        var page2 = (await admin.GetJsonAsync(next)).AsArray();
        Assert.Equal(2, page2.Count);
        Assert.True((long)page2[0]!["id"]! > (long)page1[2]!["id"]!);
    }

    [Fact]
    public async Task Verify_reports_an_altered_or_removed_event()
    {
        // This test tampers with the trail, so it runs on a database of its own.
        using var own = new VardbroFactory();
        using var client = own.Sandbox();
        for (var i = 0; i < 6; i++)
        {
            await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        }

        using var admin = own.Admin();
        var ok = await admin.GetJsonAsync("/api/admin/audit/verify");
        Assert.True((bool)ok["valid"]!);
        Assert.Equal(6, (long)ok["events_checked"]!);

        var events = (await admin.GetJsonAsync("/api/admin/audit")).AsArray();
        Assert.All(events, e => Assert.NotNull((long?)e!["seq"]));

        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET \"OutcomeStatus\" = 404 WHERE \"Seq\" = 3"));
        var altered = await admin.GetJsonAsync("/api/admin/audit/verify");
        Assert.False((bool)altered["valid"]!);
        Assert.Equal(3, (long)altered["broken_at_seq"]!);

        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET \"OutcomeStatus\" = 200 WHERE \"Seq\" = 3"));
        Assert.True((bool)(await admin.GetJsonAsync("/api/admin/audit/verify"))["valid"]!);

        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("DELETE FROM audit_events WHERE \"Seq\" = 5"));
        var removed = await admin.GetJsonAsync("/api/admin/audit/verify");
        Assert.False((bool)removed["valid"]!);
        Assert.Equal(5, (long)removed["broken_at_seq"]!);
    }

    [Fact]
    public async Task Removing_the_newest_event_is_detected_too()
    {
        using var own = new VardbroFactory();
        using var client = own.Sandbox();
        for (var i = 0; i < 3; i++)
        {
            await client.GetJsonAsync($"{L01}/patients?first_name=tolvan");
        }

        using var admin = own.Admin();
        Assert.True((bool)(await admin.GetJsonAsync("/api/admin/audit/verify"))["valid"]!);
        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("DELETE FROM audit_events WHERE \"Seq\" = 3"));
        Assert.False((bool)(await admin.GetJsonAsync("/api/admin/audit/verify"))["valid"]!);
    }

    [Fact]
    public async Task Concurrent_requests_each_get_their_event_and_the_chain_stays_whole()
    {
        var (client, clientId) = await NewClientAsync();
        using var owned = client;
        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212")));
        using var admin = factory.Admin();
        var events = await EventsAsync($"client_id={clientId}&limit=200");
        Assert.Equal(40, events.Count);
        Assert.Equal(40, events.Select(e => (string)e!["request_id"]!).Distinct().Count());
        Assert.True((bool)(await admin.GetJsonAsync("/api/admin/audit/verify"))["valid"]!);
    }
}
