using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary>Leyr's "Show Doctor's Availability" and "Book an Appointment" quickstarts, on the real clock.</summary>
public sealed class BookingFlowTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private static readonly TimeZoneInfo Stockholm = TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm");

    public static string Local(DateTimeOffset instant) =>
        TimeZoneInfo.ConvertTime(instant, Stockholm).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Availability_then_booking_then_cancelling_frees_the_slot()
    {
        using var client = factory.Sandbox();
        var units = await client.GetJsonAsync("/api/emrs/webdoc/care-units");
        var unit = (string)units[0]!["id"]!;
        var resources = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/resources");
        var resource = (string)resources[0]!["id"]!;
        var services = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/healthcare-services");
        var service = (string)services[0]!["id"]!;

        var now = TimeProvider.System.GetUtcNow();
        // The '+' of the offset sent unencoded, as quickstart scripts do; it arrives as a space.
        var query = $"start={Local(now)}&end={Local(now.AddDays(30))}&resource_id={resource}&healthcare_service_id={service}";
        var slots = (await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/timeslots?{query}")).AsArray();
        Assert.NotEmpty(slots);
        var slot = slots[0]!;
        Assert.Matches(@"[+-]0[12]:00$", (string)slot["start"]!);
        Assert.Equal(resource, (string?)slot["resource_id"]);
        Assert.Equal(service, (string?)slot["healthcare_service_id"]);
        Assert.Equal(unit, (string?)slot["care_unit_id"]);
        Assert.True(DateTimeOffset.Parse((string)slot["start"]!, CultureInfo.InvariantCulture) > now);

        var booked = await client.PostJsonAsync($"/api/emrs/webdoc/care-units/{unit}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:191212121212",
            resource_id = resource,
            healthcare_service_id = service,
            comment = "Första besöket",
        }, HttpStatusCode.Created);
        var appointment = Assert.Single(booked.AsArray())!;
        Assert.Equal("booked", (string?)appointment["status"]);
        Assert.Equal((string?)slot["start"], (string?)appointment["start"]);
        var id = (string)appointment["id"]!;
        Assert.Equal(id, (string?)appointment["emr_id"]);
        var tolvan = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/patients/se_personal_number:191212121212");
        Assert.Equal((string?)tolvan["emr_id"], (string?)appointment["patient_id"]);

        var after = (await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/timeslots?{query}")).AsArray();
        Assert.DoesNotContain(after, s => (string?)s!["start"] == (string?)slot["start"]);

        var read = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/appointments/{id}");
        Assert.Equal("Första besöket", (string?)read["comment"]);
        var list = (await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/appointments?patient_id=se_personal_number:191212121212")).AsArray();
        Assert.Contains(list, a => (string?)a!["id"] == id);

        using (var cancel = await client.PatchAsync(new Uri($"/api/emrs/webdoc/care-units/{unit}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled","comment":"Kan inte komma"}""")))
        {
            var cancelled = await cancel.JsonAsync(HttpStatusCode.OK);
            Assert.Equal("cancelled", (string?)cancelled["status"]);
        }

        var again = (await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/timeslots?{query}")).AsArray();
        Assert.Contains(again, s => (string?)s!["start"] == (string?)slot["start"]);

        using var twice = await client.PatchAsync(new Uri($"/api/emrs/webdoc/care-units/{unit}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}"""));
        await twice.ProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Takecare_recommended_booking_works()
    {
        using var client = factory.Sandbox();
        const string unit = "/api/emrs/takecare/care-units/10";
        var slots = (await client.GetJsonAsync($"{unit}/timeslots?resource_id=10-991890000019")).AsArray();
        var slot = slots.Last()!;
        var booked = await client.PostJsonAsync($"{unit}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:197110021834",
            resource_id = "10-991890000019",
            healthcare_service_id = (string)slot["healthcare_service_id"]!,
        }, HttpStatusCode.Created);
        Assert.Equal("booked", (string?)booked[0]!["status"]);
    }

    [Fact]
    public async Task Fifty_concurrent_bookings_of_one_slot_make_exactly_one_appointment()
    {
        using var setup = factory.Sandbox();
        const string unit = "/api/emrs/webdoc/care-units/L0_1";
        var slot = (await setup.GetJsonAsync($"{unit}/timeslots?resource_id=1002&healthcare_service_id=L0_1-general")).AsArray().Last()!;
        var body = new JsonObject
        {
            ["start"] = (string)slot["start"]!,
            ["end"] = (string)slot["end"]!,
            ["patient_id"] = "se_personal_number:191212121212",
            ["resource_id"] = "1002",
        }.ToJsonString();

        var clients = Enumerable.Range(0, 50).Select(_ => factory.Sandbox()).ToList();
        try
        {
            using var gate = new ManualResetEventSlim(false);
            var tasks = clients.Select(c => Task.Run(async () =>
            {
                gate.Wait();
                using var response = await c.PostAsync(new Uri($"{unit}/appointments", UriKind.Relative), JsonContent.Of(body));
                var text = await response.Content.ReadAsStringAsync();
                return (response.StatusCode, Body: JsonNode.Parse(text)!);
            })).ToList();
            gate.Set();
            var results = await Task.WhenAll(tasks);
            Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
            var losers = results.Where(r => r.StatusCode != HttpStatusCode.Created).ToList();
            Assert.Equal(49, losers.Count);
            Assert.All(losers, r =>
            {
                Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
                Assert.Equal("NO_TIMESLOTS_AVAILABLE", (string?)r.Body["errors"]![0]!["error_code"]);
            });
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        var held = (await setup.GetJsonAsync($"{unit}/appointments?resource_id=1002&status=booked")).AsArray();
        Assert.Single(held, a => (string?)a!["start"] == (string?)slot["start"]);
    }
}
