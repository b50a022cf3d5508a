using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

public sealed class BookingIdempotencyAndAuditTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private static async Task<string> SlotBodyAsync(HttpClient client, string resource, int index)
    {
        var slot = (await client.GetJsonAsync($"{L01}/timeslots?resource_id={resource}&healthcare_service_id=L0_1-general")).AsArray()[index]!;
        return new JsonObject { ["start"] = (string)slot["start"]!, ["end"] = (string)slot["end"]!, ["patient_id"] = "se_personal_number:191212121212", ["resource_id"] = resource }.ToJsonString();
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient client, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{L01}/appointments", UriKind.Relative)) { Content = JsonContent.Of(body) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<int> BookedCountAsync(HttpClient client, string resource) =>
        (await client.GetJsonAsync($"{L01}/appointments?resource_id={resource}&status=booked&limit=200")).AsArray().Count;

    [Fact]
    public async Task The_same_booking_posted_twice_with_one_key_books_once_and_answers_the_same_twice()
    {
        using var client = factory.Sandbox();
        var body = await SlotBodyAsync(client, "1003", 5);
        var key = Guid.NewGuid().ToString();
        var first = await PostAsync(client, body, key);
        var second = await PostAsync(client, body, key);
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(1, await BookedCountAsync(client, "1003"));

        var other = await PostAsync(client, await SlotBodyAsync(client, "1003", 6), key);
        Assert.Equal((HttpStatusCode)422, other.Status);
        Assert.Contains("IDEMPOTENCY_KEY_REUSED", other.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ten_concurrent_retries_with_one_key_book_once()
    {
        using var setup = factory.Sandbox();
        var body = await SlotBodyAsync(setup, "1002", 3);
        var key = Guid.NewGuid().ToString();
        var clients = Enumerable.Range(0, 10).Select(_ => factory.Sandbox()).ToList();
        try
        {
            using var gate = new ManualResetEventSlim(false);
            var tasks = clients.Select(c => Task.Run(async () =>
            {
                gate.Wait();
                return await PostAsync(c, body, key);
            })).ToList();
            gate.Set();
            var results = await Task.WhenAll(tasks);
            Assert.All(results, r => Assert.Equal(HttpStatusCode.Created, r.Status));
            Assert.Single(results.Select(r => r.Body).Distinct());
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        Assert.Equal(1, await BookedCountAsync(setup, "1002"));
    }

    [Fact]
    public async Task Every_appointment_read_and_change_writes_an_audit_event()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "appointment audit", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_1" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        var tolvan = (string)(await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212"))["id"]!;

        using var booking = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(await SlotBodyAsync(client, "1001", 8)));
        var id = (string)(await booking.JsonAsync(HttpStatusCode.Created))[0]!["id"]!;
        await client.GetJsonAsync($"{L01}/appointments/{id}");
        await client.GetJsonAsync($"{L01}/appointments?patient_id=se_personal_number:191212121212");
        using (var cancel = await client.PatchAsync(new Uri($"{L01}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}""")))
        {
            await cancel.JsonAsync(HttpStatusCode.OK);
        }

        var events = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray()
            .Where(e => ((string)e!["action"]!).StartsWith("appointment.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["appointment.book", "appointment.read", "appointment.list", "appointment.update"], events.Select(e => (string)e!["action"]!));
        Assert.All(events, e => Assert.Contains(tolvan, e!["patient_ids"]!.AsArray().Select(p => (string)p!)));
        Assert.Equal(201, (int)events[0]!["outcome_status"]!);
        Assert.Equal(id, (string?)events[0]!["resource_id"]);
        Assert.Equal(id, (string?)events[3]!["resource_id"]);
    }

    [Fact]
    public async Task An_appointment_list_for_a_patient_with_none_still_names_the_patient_in_its_event()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "empty list audit", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_1" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        var patient = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Märta", last_name = "Ödlund", external_id = "se_personal_number:198112289874" }, HttpStatusCode.Created);

        Assert.Empty((await client.GetJsonAsync($"{L01}/appointments?patient_id=emr_id:{(string)patient["emr_id"]!}")).AsArray());

        var list = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray().Single(e => (string)e!["action"]! == "appointment.list")!;
        Assert.Equal([(string)patient["id"]!], list["patient_ids"]!.AsArray().Select(p => (string)p!));
    }
}
