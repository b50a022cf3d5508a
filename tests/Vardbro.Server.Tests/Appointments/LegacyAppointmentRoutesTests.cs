using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary>
/// The appointment routes of Leyr's older guides (update-appointments, cancel-appointments), which name
/// no care unit: <c>GET</c>/<c>PATCH /api/emrs/{emr}/appointments/{id}</c> and bulk <c>PATCH
/// /api/emrs/{emr}/appointments</c> act at the appointment's own care unit, with its grants and audit
/// (API.md §8).
/// </summary>
public sealed class LegacyAppointmentRoutesTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string Legacy = "/api/emrs/webdoc/appointments";
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private static int next;

    /// <summary>A fresh appointment at L0_1 on a day of its own, so the tests of the class never share a slot.</summary>
    private static async Task<JsonNode> BookAsync(HttpClient client, string resource = "1001")
    {
        var day = TimeProvider.System.GetUtcNow().AddDays(5 + Interlocked.Increment(ref next));
        var start = day.ToString("yyyy-MM-dd'T'00:00:00'Z'", CultureInfo.InvariantCulture);
        var end = day.AddDays(3).ToString("yyyy-MM-dd'T'00:00:00'Z'", CultureInfo.InvariantCulture);
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?start={start}&end={end}&resource_id={resource}&healthcare_service_id=L0_1-general")).AsArray();
        var slot = slots[0]!;
        var booked = await client.PostJsonAsync($"{L01}/appointments", new { start = (string?)slot["start"], end = (string?)slot["end"], patient_id = "se_personal_number:191212121212", resource_id = resource, healthcare_service_id = "L0_1-general" }, HttpStatusCode.Created);
        return booked[0]!;
    }

    private static async Task<HttpResponseMessage> PatchAsync(HttpClient client, string url, object body) =>
        await client.PatchAsync(new Uri(url, UriKind.Relative), JsonContent.Of(System.Text.Json.JsonSerializer.Serialize(body)));

    [Fact]
    public async Task Read_reschedule_and_cancel_without_the_care_unit_answer_as_the_care_unit_routes()
    {
        using var client = factory.Sandbox();
        var appointment = await BookAsync(client);
        var id = (string)appointment["id"]!;

        var read = await client.GetJsonAsync($"{Legacy}/{id}");
        Assert.Equal((await client.GetJsonAsync($"{L01}/appointments/{id}")).ToJsonString(), read.ToJsonString());
        Assert.Equal("L0_1", (string?)read["care_unit_id"]);

        using (var commented = await PatchAsync(client, $"{Legacy}/{id}", new { comment = "Ring innan." }))
        {
            Assert.Equal("Ring innan.", (string?)(await commented.JsonAsync(HttpStatusCode.OK))["comment"]);
        }

        // Leyr's update guide: resource_id alone moves the appointment to that resource at the same time.
        using (var moved = await PatchAsync(client, $"{Legacy}/{id}", new { start = (string?)appointment["start"], end = (string?)appointment["end"], resource_id = "1002" }))
        {
            var body = await moved.JsonAsync(HttpStatusCode.OK);
            Assert.Equal(("1002", (string?)appointment["start"]), ((string?)body["resource_id"], (string?)body["start"]));
        }

        using (var cancelled = await PatchAsync(client, $"{Legacy}/{id}", new { status = "cancelled" }))
        {
            Assert.Equal("cancelled", (string?)(await cancelled.JsonAsync(HttpStatusCode.OK))["status"]);
        }

        // Cancelling twice is the same 409 as on the care-unit route.
        using var twice = await PatchAsync(client, $"{Legacy}/{id}", new { status = "cancelled" });
        using var twiceThere = await PatchAsync(client, $"{L01}/appointments/{id}", new { status = "cancelled" });
        var legacyProblem = await twice.ProblemAsync(HttpStatusCode.Conflict);
        var unitProblem = await twiceThere.ProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal((string?)unitProblem["errors"]![0]!["error_code"], (string?)legacyProblem["errors"]![0]!["error_code"]);
    }

    [Fact]
    public async Task Bulk_cancel_by_ids_only_changes_all_of_them()
    {
        using var client = factory.Sandbox();
        var a = (string)(await BookAsync(client))["id"]!;
        var b = (string)(await BookAsync(client, "1002"))["id"]!;

        using var response = await PatchAsync(client, Legacy, new { ids = new[] { a, b }, status = "cancelled", comment = "Stängt" });
        var updated = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
        Assert.Equal([a, b], updated.Select(x => (string)x!["id"]!));
        Assert.All(updated, x => Assert.Equal("cancelled", (string?)x!["status"]));
        Assert.Equal("cancelled", (string?)(await client.GetJsonAsync($"{L01}/appointments/{b}"))["status"]);

        using var tooMany = await PatchAsync(client, Legacy, new { ids = Enumerable.Range(0, 51).Select(i => $"x{i}").ToArray(), status = "cancelled" });
        await tooMany.ProblemAsync(HttpStatusCode.BadRequest, "MAX_ITEMS_EXCEEDED", "ids");
        using var unknown = await PatchAsync(client, Legacy, new { ids = new[] { a, "no-such-appointment" }, status = "cancelled" });
        await unknown.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND", "ids[1]");
    }

    [Fact]
    public async Task Appointments_of_two_care_units_cannot_change_in_one_request()
    {
        using var client = factory.Sandbox();
        var here = (string)(await BookAsync(client))["id"]!;
        var slots = (await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_2/timeslots?healthcare_service_id=L0_2-general")).AsArray();
        var slot = slots[0]!;
        var there = (string)(await client.PostJsonAsync("/api/emrs/webdoc/care-units/L0_2/appointments", new { start = (string?)slot["start"], end = (string?)slot["end"], patient_id = "se_personal_number:191212121212", resource_id = (string?)slot["resource_id"] }, HttpStatusCode.Created))[0]!["id"]!;

        using var response = await PatchAsync(client, Legacy, new { ids = new[] { here, there }, status = "cancelled" });
        await response.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", "ids[1]");
        Assert.Equal("booked", (string?)(await client.GetJsonAsync($"{L01}/appointments/{here}"))["status"]);
        Assert.Equal("L0_2", (string?)(await client.GetJsonAsync($"{Legacy}/{there}"))["care_unit_id"]);
    }

    [Fact]
    public async Task An_unknown_appointment_is_404_and_one_outside_the_grants_is_403_as_on_the_care_unit_route()
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync($"{Legacy}/no-such-appointment", HttpStatusCode.NotFound, "NOT_FOUND", "appointment_id");
        using (var unknown = await PatchAsync(client, $"{Legacy}/no-such-appointment", new { status = "cancelled" }))
        {
            await unknown.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND", "appointment_id");
        }

        var id = (string)(await BookAsync(client))["id"]!;
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "only L0_2", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_2" } } } }, HttpStatusCode.Created);
        using var narrow = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
        var onRoute = await narrow.GetProblemAsync($"{L01}/appointments/{id}", HttpStatusCode.Forbidden, "FORBIDDEN");
        var legacy = await narrow.GetProblemAsync($"{Legacy}/{id}", HttpStatusCode.Forbidden, "FORBIDDEN", "care_unit_id");
        Assert.Equal((string?)onRoute["detail"], (string?)legacy["detail"]);
        using (var patch = await PatchAsync(narrow, $"{Legacy}/{id}", new { status = "cancelled" }))
        {
            await patch.ProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        using (var bulk = await PatchAsync(narrow, Legacy, new { ids = new[] { id }, status = "cancelled" }))
        {
            await bulk.ProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        Assert.Equal("booked", (string?)(await client.GetJsonAsync($"{L01}/appointments/{id}"))["status"]);
    }

    [Fact]
    public async Task The_audit_trail_records_the_appointments_own_care_unit()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "legacy audit", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        var appointment = await BookAsync(client);
        var id = (string)appointment["id"]!;
        await client.GetJsonAsync($"{Legacy}/{id}");
        using (var cancelled = await PatchAsync(client, $"{Legacy}/{id}", new { status = "cancelled" }))
        {
            await cancelled.JsonAsync(HttpStatusCode.OK);
        }

        var events = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray();
        var tolvan = (string)(await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212"))["id"]!;
        foreach (var action in new[] { "appointment.read", "appointment.update" })
        {
            var e = Assert.Single(events, x => (string?)x!["action"] == action)!;
            Assert.Equal(("webdoc", "L0_1", id, 200), ((string?)e["emr"], (string?)e["care_unit_id"], (string?)e["resource_id"], (int)e["outcome_status"]!));
            Assert.Equal([tolvan], e["patient_ids"]!.AsArray().Select(x => (string)x!));
        }
    }
}
