using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Errors;

/// <summary>
/// Input at the edges of what the store and the time-zone arithmetic can represent, reversed ranges
/// and keys given twice: each a 400 <c>INVALID_FIELD</c> naming the field, never a 500 or an empty answer.
/// </summary>
public sealed class InputBoundsTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [Theory]
    [InlineData("/timeslots?start=9999-12-31T00:00:00Z", "start")]
    [InlineData("/timeslots?start=0001-01-01T00:00:00Z&end=0001-01-02T00:00:00Z", "start")]
    [InlineData("/timeslots?start=2026-03-10T00:00:00Z&end=9999-12-31T23:59:59Z", "end")]
    [InlineData("/timeslots?start=1899-12-31T23:59:59Z", "start")]
    [InlineData("/timeslots?start=3000-01-01T00:00:00Z", "start")]
    [InlineData("/resources/1001/schedules?start=9999-12-31T00:00:00Z", "start")]
    [InlineData("/resources/1001/schedules?start=0001-01-01T00:00:00%2B01:00", "start")]
    [InlineData("/appointments?start=9999-12-31T00:00:00Z", "start")]
    [InlineData("/appointments?end=0001-01-01T00:00:00Z", "end")]
    [InlineData("/patients?birth_date=0001-01-01", "birth_date")]
    [InlineData("/patients?birth_date=9999-12-31", "birth_date")]
    public async Task Instants_and_dates_outside_the_years_1900_to_2999_are_refused_on_their_field(string query, string field)
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync(L01 + query, HttpStatusCode.BadRequest, "INVALID_FIELD", field);
    }

    [Fact]
    public async Task Booking_at_year_9999_or_0001_is_refused_on_its_field()
    {
        using var client = factory.Sandbox();
        await client.PostProblemAsync(L01 + "/appointments", new { start = "9999-12-31T00:00:00Z", end = "9999-12-31T00:30:00Z", patient_id = "191212121212" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "start");
        await client.PostProblemAsync(L01 + "/appointments", new { start = "0001-01-01T00:00:00Z", end = "0001-01-01T00:30:00Z", patient_id = "191212121212" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "end");
    }

    [Fact]
    public async Task Schedules_at_the_edges_of_the_calendar_are_refused()
    {
        using var client = factory.Sandbox();
        var url = L01 + "/resources/1001/schedules";
        await client.PostProblemAsync(url, new { start = "9999-12-31T08:00:00Z", end = "9999-12-31T16:00:00Z" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "start");
        var rule = new { recurrence = new { weekdays = new[] { "mon" }, start_time = "08:00", end_time = "16:00", from = "0001-01-01", until = "9999-12-31" } };
        var problem = await client.PostProblemAsync(url, rule, HttpStatusCode.BadRequest, "INVALID_FIELD", "recurrence.from");
        Assert.Contains(problem["errors"]!.AsArray(), e => (string?)e!["path"] == "recurrence.until");
    }

    [Fact]
    public async Task An_overlong_care_unit_id_is_refused_and_audited_cut_to_size()
    {
        // Found by OpenApiFuzzTests on PostgreSQL: the refused request's audit event did not fit its column (503).
        using var client = factory.Sandbox();
        var id = new string('z', 300);
        await client.PostProblemAsync($"/api/emrs/webdoc/care-units/{id}/appointments", new { start = "2026-03-03T09:00:00+01:00", end = "2026-03-03T09:30:00+01:00", patient_id = "191212121212" }, HttpStatusCode.BadRequest, "INVALID_CARE_UNIT_ID", "care_unit_id");
        await client.GetProblemAsync($"/api/emrs/webdoc/care-units/{id}/patients/191212121212", HttpStatusCode.BadRequest, "INVALID_CARE_UNIT_ID", "care_unit_id");
        using var response = await client.GetAsync(new Uri($"/api/emrs/webdoc/care-units/L0_1/appointments/{new string('\u00e5', 300)}", UriKind.Relative));
        Assert.InRange((int)response.StatusCode, 400, 499);
    }

    [Theory]
    [InlineData("/appointments?start=2026-04-01T00:00:00Z&end=2026-03-01T00:00:00Z", "end")]
    [InlineData("/appointments?start=2026-04-01T00:00:00Z&end=2026-04-01T00:00:00Z", "end")]
    [InlineData("/timeslots?start=2026-04-01T00:00:00Z&end=2026-03-01T00:00:00Z", "end")]
    [InlineData("/resources/1001/schedules?start=2026-04-01T00:00:00Z&end=2026-03-01T00:00:00Z", "end")]
    public async Task A_reversed_range_is_refused_everywhere(string query, string field)
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync(L01 + query, HttpStatusCode.BadRequest, "INVALID_FIELD", field);
    }

    [Fact]
    public async Task A_reversed_audit_range_is_refused()
    {
        using var admin = factory.Admin();
        await admin.GetProblemAsync("/api/admin/audit?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z", HttpStatusCode.BadRequest, "INVALID_FIELD", "to");
    }

    [Theory]
    [InlineData("/patients", """{"first_name":"Anna","first_name":"Berit","last_name":"Case"}""", "first_name")]
    [InlineData("/patients", """{"first_name":"Anna","last_name":"Case","address":{"city":"Lund","city":"Malmö"}}""", "address.city")]
    [InlineData("/appointments", """{"start":"2026-03-03T09:00:00+01:00","end":"2026-03-03T09:30:00+01:00","patient_id":"191212121212","patient_id":"197110021834"}""", "patient_id")]
    [InlineData("/resources/1001/schedules", """{"start":"2026-03-03T09:00:00+01:00","start":"2026-03-04T09:00:00+01:00","end":"2026-03-03T10:00:00+01:00"}""", "start")]
    public async Task A_key_given_twice_is_refused_in_every_body(string path, string body, string field)
    {
        using var client = factory.Sandbox();
        await client.PostProblemAsync(L01 + path, body, HttpStatusCode.BadRequest, "INVALID_FIELD", field);
    }

    [Fact]
    public async Task A_key_given_twice_is_refused_in_admin_bodies_and_in_a_note_content()
    {
        using var admin = factory.Admin();
        await admin.PostProblemAsync("/api/admin/clients", """{"name":"a","name":"b","grants":[]}""", HttpStatusCode.BadRequest, "INVALID_FIELD", "name");
        using var client = factory.Sandbox();
        var note = """{"template_id":"leyr_unstructured","title":"t","created_by_id":"1001","content":{"unstructured":"a","unstructured":"b"}}""";
        var problem = await client.PostProblemAsync(L01 + "/patients/se_personal_number:191212121212/medical-notes", note, HttpStatusCode.BadRequest, "INVALID_FIELD");
        Assert.StartsWith("content", (string?)problem["errors"]![0]!["path"], StringComparison.Ordinal);
        Assert.DoesNotContain("\"a\"", problem.ToJsonString(), StringComparison.Ordinal);
    }
}
