using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary>The server on a controlled clock: Monday 2026-03-02 10:00 in Stockholm.</summary>
public sealed class FakeClockFactory : VardbroFactory
{
    protected override bool UseFakeTime => true;
}

public sealed class SchedulingRulesTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    private static async Task<JsonArray> SlotsAsync(HttpClient client, string unit, string query) =>
        (await client.GetJsonAsync($"{unit}/timeslots?{query}")).AsArray();

    private static Task<JsonNode> BookAsync(HttpClient client, string unit, JsonNode slot, HttpStatusCode expected, string patient = "se_personal_number:191212121212") =>
        client.PostJsonAsync($"{unit}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = patient,
            resource_id = (string)slot["resource_id"]!,
            healthcare_service_id = (string?)slot["healthcare_service_id"],
        }, expected);

    private static async Task<JsonNode> PatchAsync(HttpClient client, string url, string body, HttpStatusCode expected)
    {
        using var response = await client.PatchAsync(new Uri(url, UriKind.Relative), JsonContent.Of(body));
        return expected == HttpStatusCode.OK ? await response.JsonAsync(expected) : await response.ProblemAsync(expected);
    }

    [Theory]
    [InlineData("2026-03-27T00:00:00%2B01:00", "2026-03-28T00:00:00%2B01:00", "2026-03-27T08:00:00+01:00")] // Friday before summer time
    [InlineData("2026-03-30T00:00:00%2B02:00", "2026-03-31T00:00:00%2B02:00", "2026-03-30T08:00:00+02:00")] // Monday after
    [InlineData("2026-10-23T00:00:00%2B02:00", "2026-10-24T00:00:00%2B02:00", "2026-10-23T08:00:00+02:00")] // Friday before winter time
    [InlineData("2026-10-26T00:00:00%2B01:00", "2026-10-27T00:00:00%2B01:00", "2026-10-26T08:00:00+01:00")] // Monday after
    public async Task Weekly_hours_start_at_0800_local_on_both_sides_of_a_daylight_saving_change(string start, string end, string firstSlot)
    {
        using var client = factory.Sandbox();
        var slots = await SlotsAsync(client, L01, $"start={start}&end={end}&resource_id=1001&healthcare_service_id=L0_1-general");
        Assert.Equal(firstSlot, (string?)slots[0]!["start"]);
        Assert.Equal(16, slots.Count); // 08:00–16:00 in 30-minute pieces
        Assert.EndsWith(firstSlot[^6..], (string?)slots[^1]!["end"], StringComparison.Ordinal);
        Assert.StartsWith(firstSlot[..11] + "16:00", (string?)slots[^1]!["end"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeslots_are_sorted_by_start_then_resource_and_never_in_the_past()
    {
        using var client = factory.Sandbox();
        var slots = await SlotsAsync(client, L01, "healthcare_service_id=L0_1-follow-up");
        Assert.NotEmpty(slots);
        var keys = slots.Select(s => (DateTimeOffset.Parse((string)s!["start"]!, System.Globalization.CultureInfo.InvariantCulture), (string)s["resource_id"]!)).ToList();
        Assert.Equal(keys.OrderBy(k => k.Item1).ThenBy(k => k.Item2, StringComparer.Ordinal), keys);
        Assert.All(keys, k => Assert.True(k.Item1 > factory.Time.GetUtcNow()));
        Assert.Equal("2026-03-02T10:15:00+01:00", (string?)slots[0]!["start"]); // now is 10:00: the 10:00 slot has begun
        Assert.Equal(["1001", "1002", "1003"], slots.Take(3).Select(s => (string)s!["resource_id"]!));

        var everything = await SlotsAsync(client, L01, "resource_id=1001&start=2026-03-03T08:00:00Z&end=2026-03-03T08:30:00Z");
        Assert.Equal(["L0_1-follow-up", "L0_1-general", "L0_1-follow-up"], everything.Select(s => (string)s!["healthcare_service_id"]!));
    }

    [Fact]
    public async Task Timeslot_query_errors()
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync($"{L01}/timeslots?start=2026-03-02T00:00:00Z&end=2026-06-02T00:00:00Z", HttpStatusCode.BadRequest, "INVALID_FIELD", "end");
        await client.GetProblemAsync($"{L01}/timeslots?start=2026-03-02T10:00:00", HttpStatusCode.BadRequest, "INVALID_FIELD", "start");
        await client.GetProblemAsync($"{L01}/timeslots?start=2026-03-05T00:00:00Z&end=2026-03-04T00:00:00Z", HttpStatusCode.BadRequest, "INVALID_FIELD", "end");
        await client.GetProblemAsync($"{L01}/timeslots?healthcare_service_id=nope", HttpStatusCode.BadRequest, "INVALID_HEALTHCARE_SERVICE_ID", "healthcare_service_id");
        await client.GetProblemAsync($"{L01}/timeslots?resource_id=nope", HttpStatusCode.NotFound, "NOT_FOUND", "resource_id");
        await client.GetProblemAsync($"{L01}/timeslots?resource_id=foo:1", HttpStatusCode.BadRequest, "INVALID_RESOURCE_ID_TYPE", "resource_id");
        var byHsa = await SlotsAsync(client, L01, "resource_id=hsa_id:SE2321000131-E000000000102&start=2026-03-03T07:00:00Z&end=2026-03-03T08:00:00Z");
        Assert.All(byHsa, s => Assert.Equal("1002", (string?)s!["resource_id"]));
        Assert.NotEmpty(byHsa);
    }

    [Fact]
    public async Task Schedules_single_windows_and_weekly_rules_refuse_overlaps()
    {
        using var admin = factory.Admin();
        await admin.PostJsonAsync("/api/admin/emrs/webdoc/care-units/L0_1/resources", new { id = "room-7", name = "Rum 7", kind = "room" }, HttpStatusCode.Created);
        using var client = factory.Sandbox();
        const string schedules = L01 + "/resources/room-7/schedules";
        var window = await client.PostJsonAsync(schedules, new { start = "2026-03-10T09:00:00+01:00", end = "2026-03-10T12:00:00+01:00", healthcare_service_ids = new[] { "L0_1-follow-up" } }, HttpStatusCode.Created);
        Assert.Equal("2026-03-10T09:00:00+01:00", (string?)window["start"]);
        await client.PostProblemAsync(schedules, new { start = "2026-03-10T11:00:00+01:00", end = "2026-03-10T13:00:00+01:00" }, HttpStatusCode.Conflict);
        await client.PostProblemAsync(schedules, new { recurrence = new { weekdays = new[] { "tue" }, start_time = "11:30", end_time = "14:00", from = "2026-03-01" } }, HttpStatusCode.Conflict);
        var rule = await client.PostJsonAsync(schedules, new { recurrence = new { weekdays = new[] { "tue", "thu" }, start_time = "13:00", end_time = "15:00", from = "2026-03-01", until = "2026-03-31" } }, HttpStatusCode.Created);
        Assert.Equal(["tue", "thu"], rule["recurrence"]!["weekdays"]!.AsArray().Select(d => (string)d!));
        await client.PostProblemAsync(schedules, new { recurrence = new { weekdays = new[] { "thu" }, start_time = "14:00", end_time = "16:00", from = "2026-03-20" } }, HttpStatusCode.Conflict);

        var windows = (await client.GetJsonAsync($"{schedules}?start=2026-03-09T00:00:00%2B01:00&end=2026-03-13T00:00:00%2B01:00")).AsArray();
        Assert.Equal(["2026-03-10T09:00:00+01:00", "2026-03-10T13:00:00+01:00", "2026-03-12T13:00:00+01:00"], windows.Select(w => (string)w!["start"]!));
        Assert.Equal(["L0_1-follow-up"], windows[0]!["healthcare_service_ids"]!.AsArray().Select(x => (string)x!));

        var slots = await SlotsAsync(client, L01, "resource_id=room-7&start=2026-03-10T00:00:00Z&end=2026-03-11T00:00:00Z");
        Assert.Equal(12 + 8 + 4, slots.Count); // 09–12 follow-ups only; 13–15 both services

        await client.PostProblemAsync(schedules, new { start = "2026-03-10T09:00:00" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "start");
        await client.PostProblemAsync(schedules, new { recurrence = new { weekdays = new[] { "funday" }, start_time = "8", end_time = "07:00" } }, HttpStatusCode.BadRequest);
        await client.PostProblemAsync(schedules, new { start = "2026-04-10T09:00:00+02:00", end = "2026-04-10T10:00:00+02:00", healthcare_service_ids = new[] { "nope" } }, HttpStatusCode.BadRequest, "INVALID_HEALTHCARE_SERVICE_ID");
        await client.PostProblemAsync(L01 + "/resources/nope/schedules", new { start = "2026-04-10T09:00:00+02:00", end = "2026-04-10T10:00:00+02:00" }, HttpStatusCode.NotFound, "NOT_FOUND", "resource_id");
    }

    [Fact]
    public async Task Booking_errors_have_their_codes_and_statuses()
    {
        using var client = factory.Sandbox();
        var slot = (await SlotsAsync(client, L01, "resource_id=1003&start=2026-03-04T08:00:00Z&end=2026-03-04T09:00:00Z&healthcare_service_id=L0_1-general"))[0]!;
        string Body(string start, string end, string? resource = "1003", string patient = "se_personal_number:191212121212", string? comment = null, string? service = null) =>
            new JsonObject { ["start"] = start, ["end"] = end, ["patient_id"] = patient, ["resource_id"] = resource, ["comment"] = comment, ["healthcare_service_id"] = service }.ToJsonString();
        var start = (string)slot["start"]!;
        var end = (string)slot["end"]!;

        await client.PostProblemAsync($"{L01}/appointments", Body("2026-03-04T09:10:00+01:00", "2026-03-04T09:40:00+01:00"), HttpStatusCode.BadRequest, "NO_TIMESLOTS_AVAILABLE");
        await client.PostProblemAsync($"{L01}/appointments", Body("2026-03-02T08:00:00+01:00", "2026-03-02T08:30:00+01:00"), HttpStatusCode.BadRequest, "NO_TIMESLOTS_AVAILABLE"); // in the past
        await client.PostProblemAsync($"{L01}/appointments", Body("2026-03-07T09:00:00+01:00", "2026-03-07T09:30:00+01:00"), HttpStatusCode.BadRequest, "NO_TIMESLOTS_AVAILABLE"); // a Saturday
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, resource: null), HttpStatusCode.BadRequest, "AMBIGUOUS_TIMESLOTS", "resource_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, comment: new string('x', 1001)), HttpStatusCode.BadRequest, "INVALID_COMMENT_LENGTH", "comment");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, patient: "se_personal_number:197110021834"), HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, patient: "se_personal_number:191212121213"), HttpStatusCode.BadRequest, "INVALID_PATIENT_ID", "patient_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, patient: "nhs_number:9434765919"), HttpStatusCode.BadRequest, "PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED", "patient_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, resource: "bar:1"), HttpStatusCode.BadRequest, "INVALID_RESOURCE_ID_TYPE", "resource_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, resource: "hsa_id:SE1-x"), HttpStatusCode.BadRequest, "INVALID_RESOURCE_ID", "resource_id");
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, service: "nope"), HttpStatusCode.BadRequest, "INVALID_HEALTHCARE_SERVICE_ID", "healthcare_service_id");
        await client.PostProblemAsync($"{L01}/appointments", Body("2026-03-04T09:00:00", end), HttpStatusCode.BadRequest, "INVALID_FIELD", "start");
        await client.PostProblemAsync($"{L01}/appointments", "{}", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "patient_id");
        await client.GetProblemAsync($"{L01}/appointments/apt_missing", HttpStatusCode.NotFound, "NOT_FOUND", "appointment_id");
        await client.GetProblemAsync($"{L01}/appointments/{new string('a', 129)}", HttpStatusCode.BadRequest, "INVALID_APPOINTMENT_ID", "appointment_id");
        await client.GetProblemAsync($"{L01}/appointments/apt%7F1", HttpStatusCode.BadRequest, "INVALID_APPOINTMENT_ID", "appointment_id");
        await client.GetProblemAsync($"{L01}/appointments?status=sleeping", HttpStatusCode.BadRequest, "INVALID_FIELD", "status");
        await client.GetProblemAsync($"{L01}/appointments?cursor=%%%", HttpStatusCode.BadRequest, "INVALID_FIELD", "cursor");

        // With the slot taken: 409, the same code.
        await BookAsync(client, L01, slot, HttpStatusCode.Created);
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end), HttpStatusCode.Conflict, "NO_TIMESLOTS_AVAILABLE");

        // 1003 holds it now, but 1001 and 1002 still offer it: still ambiguous.
        await client.PostProblemAsync($"{L01}/appointments", Body(start, end, resource: null), HttpStatusCode.BadRequest, "AMBIGUOUS_TIMESLOTS");

        // Appointments are visible only through their own care unit.
        var mine = (await client.GetJsonAsync($"{L01}/appointments?resource_id=1003")).AsArray();
        var id = (string)mine[0]!["id"]!;
        await client.GetProblemAsync($"{L02}/appointments/{id}", HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Leaving_out_the_resource_books_the_only_one_offering_the_slot()
    {
        using var admin = factory.Admin();
        await admin.PostJsonAsync("/api/admin/emrs/webdoc/care-units/L0_1/resources", new { id = "solo", name = "Solo" }, HttpStatusCode.Created);
        using var client = factory.Sandbox();
        await client.PostJsonAsync($"{L01}/resources/solo/schedules", new { start = "2026-03-07T10:00:00+01:00", end = "2026-03-07T10:30:00+01:00" }, HttpStatusCode.Created);
        var booked = await client.PostJsonAsync($"{L01}/appointments", new { start = "2026-03-07T10:00:00+01:00", end = "2026-03-07T10:30:00+01:00", patient_id = "191212121212".Insert(0, "se_personal_number:") }, HttpStatusCode.Created);
        Assert.Equal("solo", (string?)booked[0]!["resource_id"]);
        Assert.Equal("L0_1-general", (string?)booked[0]!["healthcare_service_id"]);
    }

    [Fact]
    public async Task Reschedule_reassign_and_bulk_changes()
    {
        using var client = factory.Sandbox();
        var slots = await SlotsAsync(client, L01, "resource_id=1001&healthcare_service_id=L0_1-general&start=2026-03-05T07:00:00Z&end=2026-03-05T15:00:00Z");
        var a = (await BookAsync(client, L01, slots[0]!, HttpStatusCode.Created))[0]!;
        var b = (await BookAsync(client, L01, slots[1]!, HttpStatusCode.Created))[0]!;
        var aUrl = $"{L01}/appointments/{(string)a["id"]!}";

        // Onto b's slot: taken. Onto its own slot (ignoring itself) and a free one: fine.
        await PatchAsync(client, aUrl, new JsonObject { ["start"] = (string)slots[1]!["start"]!, ["end"] = (string)slots[1]!["end"]! }.ToJsonString(), HttpStatusCode.Conflict);
        var moved = await PatchAsync(client, aUrl, new JsonObject { ["start"] = (string)slots[4]!["start"]!, ["end"] = (string)slots[4]!["end"]!, ["comment"] = "flyttad" }.ToJsonString(), HttpStatusCode.OK);
        Assert.Equal((string?)slots[4]!["start"], (string?)moved["start"]);
        Assert.Equal("flyttad", (string?)moved["comment"]);
        await PatchAsync(client, aUrl, new JsonObject { ["start"] = "2026-03-05T09:10:00+01:00", ["end"] = "2026-03-05T09:40:00+01:00" }.ToJsonString(), HttpStatusCode.BadRequest);
        var reassigned = await PatchAsync(client, aUrl, """{"resource_id":"hsa_id:SE2321000131-E000000000102"}""", HttpStatusCode.OK);
        Assert.Equal("1002", (string?)reassigned["resource_id"]);
        await PatchAsync(client, aUrl, """{"start":"2026-03-05T09:00:00+01:00"}""", HttpStatusCode.BadRequest);
        await PatchAsync(client, aUrl, """{"status":"booked"}""", HttpStatusCode.BadRequest);
        await PatchAsync(client, aUrl, """{"status":"cancelled","start":"2026-03-05T09:00:00+01:00","end":"2026-03-05T09:30:00+01:00"}""", HttpStatusCode.BadRequest);
        await PatchAsync(client, aUrl, "{}", HttpStatusCode.BadRequest);

        // Bulk: 51 ids is too many; one unknown id changes nothing; then all at once.
        var ids = new JsonArray(Enumerable.Range(0, 51).Select(i => (JsonNode)JsonValue.Create($"apt_{i}")!).ToArray());
        using (var response = await client.PatchAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(new JsonObject { ["ids"] = ids, ["status"] = "cancelled" }.ToJsonString())))
        {
            await response.ProblemAsync(HttpStatusCode.BadRequest, "MAX_ITEMS_EXCEEDED", "ids");
        }

        var bulkBody = new JsonObject { ["ids"] = new JsonArray((string)a["id"]!, (string)b["id"]!, "apt_missing"), ["status"] = "cancelled" }.ToJsonString();
        using (var response = await client.PatchAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(bulkBody)))
        {
            await response.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND", "ids[2]");
        }

        Assert.Equal("booked", (string?)(await client.GetJsonAsync(aUrl))["status"]);
        Assert.Equal("booked", (string?)(await client.GetJsonAsync($"{L01}/appointments/{(string)b["id"]!}"))["status"]);

        var okBody = new JsonObject { ["ids"] = new JsonArray((string)a["id"]!, (string)b["id"]!), ["status"] = "cancelled" }.ToJsonString();
        using (var response = await client.PatchAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(okBody)))
        {
            var both = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
            Assert.All(both, x => Assert.Equal("cancelled", (string?)x!["status"]));
        }

        // A bulk change that fails half-way (the second is already cancelled) leaves the first untouched.
        var c = (await BookAsync(client, L01, slots[6]!, HttpStatusCode.Created))[0]!;
        var halfBody = new JsonObject { ["ids"] = new JsonArray((string)c["id"]!, (string)a["id"]!), ["status"] = "cancelled" }.ToJsonString();
        using (var response = await client.PatchAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(halfBody)))
        {
            await response.ProblemAsync(HttpStatusCode.Conflict);
        }

        Assert.Equal("booked", (string?)(await client.GetJsonAsync($"{L01}/appointments/{(string)c["id"]!}"))["status"]);
    }

    [Fact]
    public async Task Completed_is_derived_once_the_end_has_passed()
    {
        using var own = new FakeClockFactory();
        using var client = own.Sandbox();
        var slot = (await SlotsAsync(client, L01, "resource_id=1001&healthcare_service_id=L0_1-follow-up"))[0]!;
        var booked = (await BookAsync(client, L01, slot, HttpStatusCode.Created))[0]!;
        own.Time.Advance(TimeSpan.FromHours(3));
        var read = await client.GetJsonAsync($"{L01}/appointments/{(string)booked["id"]!}");
        Assert.Equal("completed", (string?)read["status"]);
        Assert.Single((await client.GetJsonAsync($"{L01}/appointments?status=completed")).AsArray());
        await PatchAsync(client, $"{L01}/appointments/{(string)booked["id"]!}", """{"status":"cancelled"}""", HttpStatusCode.Conflict);
    }
}
