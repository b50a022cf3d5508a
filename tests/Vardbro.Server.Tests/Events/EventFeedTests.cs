using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Features.Events;
using Vardbro.Server.Tests.Appointments;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Events;

/// <summary>The built-in EHR's change feed (API.md §8 "Change feed and webhooks"), on a controlled clock.</summary>
public sealed partial class EventFeedTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    [GeneratedRegex(@"\b(\d{6})\b")]
    private static partial Regex SixDigits();

    private static async Task<JsonArray> EventsAsync(HttpClient client, string unit, string query = "") =>
        (await client.GetJsonAsync($"{unit}/events{query}")).AsArray();

    /// <summary>
    /// The id of an event that every earlier change of the unit comes before: the event of a patient
    /// registered now, once listed (a change committed earlier has the earlier place in the feed's order).
    /// </summary>
    private static async Task<string> MarkAsync(HttpClient client, string unit)
    {
        var marker = (string)(await client.PostJsonAsync($"{unit}/patients", new { first_name = "Markör", last_name = "Flödesson", birth_date = "1970-01-01" }, HttpStatusCode.Created))["emr_id"]!;
        return (string)(await EventsUntilAsync(client, unit, "?types=patient.created", es => Has(es, "patient.created", marker))).Single(e => (string?)e!["subject"]!["id"] == marker)!["id"]!;
    }

    /// <summary>
    /// The feed once it shows what <paramref name="done"/> waits for. On PostgreSQL an event is listed
    /// once every transaction older than it has ended (docs/api.md), and another test class's open
    /// transaction on the same cluster may hold it back a moment; on SQLite the first read shows it.
    /// </summary>
    internal static async Task<JsonArray> EventsUntilAsync(HttpClient client, string unit, string query, Func<JsonArray, bool> done, int seconds = 10)
    {
        var listed = await EventsAsync(client, unit, query);
        for (var attempt = 0; attempt < seconds * 10 && !done(listed); attempt++)
        {
            await Task.Delay(100);
            listed = await EventsAsync(client, unit, query);
        }

        Assert.True(done(listed), $"the feed did not show what the test waits for: {listed.ToJsonString()}");
        return listed;
    }

    internal static bool Has(JsonArray events, string type, string subjectId) =>
        events.Any(e => (string?)e!["type"] == type && (string?)e["subject"]!["id"] == subjectId);

    private static async Task<JsonNode> BookAsync(HttpClient client, string unit, JsonNode slot, HttpStatusCode expected = HttpStatusCode.Created) =>
        await client.PostJsonAsync($"{unit}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:191212121212",
            resource_id = (string)slot["resource_id"]!,
            healthcare_service_id = (string?)slot["healthcare_service_id"],
        }, expected);

    private static async Task<JsonNode> PatchAsync(HttpClient client, string url, string body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await client.PatchAsync(new Uri(url, UriKind.Relative), JsonContent.Of(body));
        return expected == HttpStatusCode.OK ? await response.JsonAsync(expected) : await response.ProblemAsync(expected);
    }

    private static string After(string id) => $"?after={id}";

    [Fact]
    public async Task Every_change_is_an_event_in_order_with_ids_and_no_personal_data()
    {
        using var client = factory.Sandbox();
        var before = await MarkAsync(client, L01);
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?start=2026-03-11T08:00:00%2B01:00&end=2026-03-11T12:00:00%2B01:00&healthcare_service_id=L0_1-general")).AsArray();

        var patient = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Märta", last_name = "Feedström", external_id = "se_personal_number:196704122388", phones = new[] { "+46701112233" } }, HttpStatusCode.Created);
        var patientEmrId = (string)patient["emr_id"]!;
        await PatchAsync(client, $"{L01}/patients/{patientEmrId}", """{"first_name":"Märtha"}""");
        var booked = (await BookAsync(client, L01, slots[0]!))[0]!;
        var id = (string)booked["id"]!;
        await PatchAsync(client, $"{L01}/appointments/{id}", $$"""{"start":"{{(string)slots[2]!["start"]!}}","end":"{{(string)slots[2]!["end"]!}}","resource_id":"{{(string)slots[2]!["resource_id"]!}}"}""");
        await PatchAsync(client, $"{L01}/appointments/{id}", """{"status":"cancelled"}""");
        var note = await client.PostJsonAsync($"{L01}/patients/{patientEmrId}/medical-notes", new { template_id = "leyr_unstructured", title = "Telefon", created_by_id = (string)slots[0]!["resource_id"]!, content = new { unstructured = "Mår bra." } }, HttpStatusCode.Created);
        var document = await client.PostJsonAsync($"{L01}/patients/{patientEmrId}/documents", new { content = Convert.ToBase64String("Provsvar normalt."u8.ToArray()), format = "text/plain", title = "Provsvar", type = "lab", created_by_id = (string)slots[0]!["resource_id"]! }, HttpStatusCode.Created);

        var events = await EventsUntilAsync(client, L01, After(before), es => Has(es, "document.created", (string)document["id"]!));
        Assert.Equal(
            [
                ("patient.created", "patient", patientEmrId, null),
                ("patient.updated", "patient", patientEmrId, null),
                ("appointment.created", "appointment", id, null),
                ("appointment.updated", "appointment", id, null),
                ("appointment.cancelled", "appointment", id, null),
                ("medical_note.created", "medical_note", (string)note["id"]!, patientEmrId),
                ("document.created", "document", (string)document["id"]!, patientEmrId),
            ],
            events.Select(e => ((string?)e!["type"], (string?)e["subject"]!["type"], (string?)e["subject"]!["id"], (string?)e["subject"]!["patient_id"])));
        Assert.All(events, e =>
        {
            Assert.Equal("webdoc", (string?)e!["emr"]);
            Assert.Equal("L0_1", (string?)e["care_unit_id"]);
            Assert.Equal("2026-03-02T10:00:00+01:00", (string?)e["occurred_at"]);
        });
        var ids = events.Select(e => (string)e!["id"]!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());

        // Ids, never names, numbers, phones or text; the subscriber reads the record through the API.
        var text = events.ToJsonString();
        foreach (var secret in new[] { "Märt", "Feedström", "196704122388", "701112233", "Mår bra", "Provsvar", "Telefon" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        // A change refused is no event: the slot is taken now. A change made after the refusals marks
        // where the feed must have reached; the feed's order puts any event of theirs before it.
        var second = (string)(await BookAsync(client, L01, slots[2]!))[0]!["id"]!;
        var last = (string)(await EventsUntilAsync(client, L01, After(ids[^1]), es => Has(es, "appointment.created", second)))[^1]!["id"]!;
        await BookAsync(client, L01, slots[2]!, HttpStatusCode.Conflict);
        await PatchAsync(client, $"{L01}/appointments/{id}", """{"status":"cancelled"}""", HttpStatusCode.Conflict);
        await PatchAsync(client, $"{L01}/patients/{patientEmrId}", """{"first_name":"Märta"}""");
        var after = await EventsUntilAsync(client, L01, After(last), es => Has(es, "patient.updated", patientEmrId));
        Assert.Equal([("patient.updated", patientEmrId)], after.Select(e => ((string?)e!["type"], (string?)e["subject"]!["id"])));
    }

    [Fact]
    public async Task A_confirmation_is_an_event_and_a_wrong_code_is_none()
    {
        using var client = factory.Sandbox();
        var before = await MarkAsync(client, L02);
        var slot = (await client.GetJsonAsync($"{L02}/timeslots?start=2026-03-12T08:00:00%2B01:00&end=2026-03-12T12:00:00%2B01:00"))[0]!;
        var booked = (await BookAsync(client, L02, slot))[0]!;
        var id = (string)booked["id"]!;
        using var admin = factory.Admin();
        var message = (await admin.GetJsonAsync("/api/admin/outbox")).AsArray().First(m => (string?)m!["appointment_id"] == id)!;
        var code = SixDigits().Match((string)message["body"]!).Groups[1].Value;
        var wrong = code == "000000" ? "111111" : "000000";
        await PatchAsync(client, $"{L02}/appointments/{id}", $$$"""{"confirmation":{"code":"{{{wrong}}}"}}""", HttpStatusCode.BadRequest);
        await PatchAsync(client, $"{L02}/appointments/{id}", $$$"""{"confirmation":{"code":"{{{code}}}"}}""");

        var events = await EventsUntilAsync(client, L02, After(before), es => Has(es, "appointment.confirmed", id));
        Assert.Equal([("appointment.created", id), ("appointment.confirmed", id)], events.Select(e => ((string?)e!["type"], (string?)e["subject"]!["id"])));
    }

    [Fact]
    public async Task The_feed_pages_by_link_filters_by_type_and_refuses_what_it_cannot_read()
    {
        using var client = factory.Sandbox();
        var before = await MarkAsync(client, L01);
        var made = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var created = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Sida", last_name = $"Feedsson{i}", birth_date = $"1980-01-0{i + 1}" }, HttpStatusCode.Created);
            made.Add((string)created["emr_id"]!);
        }

        await EventsUntilAsync(client, L01, After(before), es => Has(es, "patient.created", made[^1]));
        var seen = new List<string>();
        var url = $"{L01}/events?limit=2&after={before}";
        while (true)
        {
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
            var page = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
            Assert.True(page.Count <= 2);
            seen.AddRange(page.Select(e => (string)e!["subject"]!["id"]!));
            if (!response.Headers.TryGetValues("Link", out var link))
            {
                break;
            }

            url = Regex.Match(link.Single(), "<([^>]+)>; rel=\"next\"").Groups[1].Value;
            Assert.DoesNotContain("Feedsson", url, StringComparison.Ordinal);
        }

        Assert.Equal(made, seen);
        Assert.Equal(made[3..], (await EventsAsync(client, L01, $"?after={(string)(await EventsAsync(client, L01, After(before)))[2]!["id"]!}")).Select(e => (string?)e!["subject"]!["id"]));
        Assert.Empty(await EventsAsync(client, L01, After(before) + "&types=document.created,appointment.confirmed"));
        Assert.Equal(5, (await EventsAsync(client, L01, After(before) + "&types=patient.created")).Count);

        await client.GetProblemAsync($"{L01}/events?types=patient.deleted", HttpStatusCode.BadRequest, "INVALID_FIELD", "types");
        await client.GetProblemAsync($"{L01}/events?after=42", HttpStatusCode.BadRequest, "INVALID_FIELD", "after");
        await client.GetProblemAsync($"{L01}/events?cursor=not-a-cursor", HttpStatusCode.BadRequest, "INVALID_FIELD", "cursor");
        await client.GetProblemAsync($"{L01}/events?limit=0", HttpStatusCode.BadRequest, "INVALID_FIELD", "limit");
        await client.GetProblemAsync($"{L01}/events?since=yesterday", HttpStatusCode.BadRequest, "INVALID_FIELD", "since");
        await client.GetProblemAsync("/api/emrs/webdoc/care-units/no-such-unit/events", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_client_reads_only_the_feeds_of_its_grants()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "feed reader", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_1" } } } }, HttpStatusCode.Created);
        using var client = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
        await client.GetJsonAsync($"{L01}/events?limit=1");
        await client.GetProblemAsync($"{L02}/events", HttpStatusCode.Forbidden);
        await client.GetProblemAsync("/api/emrs/takecare/care-units/10/events", HttpStatusCode.Forbidden);
        Assert.Contains("events", (await client.GetJsonAsync("/api/emrs")).AsArray().Single(e => (string?)e!["code"] == "webdoc")!["capabilities"]!.AsArray().Select(c => (string?)c));
    }
}

/// <summary>Retention on a clock of its own (the other tests keep theirs still).</summary>
public sealed class EventRetentionTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    [Fact]
    public async Task Events_older_than_the_retention_are_purged()
    {
        using var client = factory.Sandbox();
        var created = await client.PostJsonAsync($"{L02}/patients", new { first_name = "Gammal", last_name = "Händelse", birth_date = "1950-05-05" }, HttpStatusCode.Created);
        var emrId = (string)created["emr_id"]!;
        var purger = factory.Services.GetRequiredService<EventPurger>();
        factory.Time.Advance(TimeSpan.FromDays(29));
        await purger.PurgeAsync(default);
        // On PostgreSQL an event is listed once every transaction older than it has ended (docs/api.md);
        // another test's open transaction may hold it back a moment.
        var listed = (await client.GetJsonAsync($"{L02}/events")).AsArray();
        for (var attempt = 0; attempt < 100 && !listed.Any(e => (string?)e!["subject"]!["id"] == emrId); attempt++)
        {
            await Task.Delay(100);
            listed = (await client.GetJsonAsync($"{L02}/events")).AsArray();
        }

        Assert.Contains(listed, e => (string?)e!["subject"]!["id"] == emrId);
        factory.Time.Advance(TimeSpan.FromDays(2));
        await purger.PurgeAsync(default);
        Assert.DoesNotContain((await client.GetJsonAsync($"{L02}/events")).AsArray(), e => (string?)e!["subject"]!["id"] == emrId);
    }
}
