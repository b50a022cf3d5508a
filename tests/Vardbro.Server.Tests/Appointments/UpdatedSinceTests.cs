using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary><c>updated_since</c> on the appointment list (API.md §8 "Change feed and webhooks"), on a controlled clock.</summary>
public sealed class UpdatedSinceTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private static string Query(string instant) => Uri.EscapeDataString(instant);

    private static async Task<JsonNode> BookAsync(HttpClient client, JsonNode slot) =>
        Assert.Single((await client.PostJsonAsync($"{L01}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:191212121212",
            resource_id = (string)slot["resource_id"]!,
            healthcare_service_id = (string?)slot["healthcare_service_id"],
        }, HttpStatusCode.Created)).AsArray())!;

    [Fact]
    public async Task Lists_only_the_appointments_changed_at_or_after_the_instant()
    {
        using var client = factory.Sandbox();
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?start=2026-03-10T08:00:00%2B01:00&end=2026-03-10T12:00:00%2B01:00")).AsArray();
        var a = await BookAsync(client, slots[0]!);
        factory.Time.Advance(TimeSpan.FromMinutes(1));
        var b = await BookAsync(client, slots.First(s => DateTimeOffset.Parse((string)s!["start"]!, CultureInfo.InvariantCulture) >= DateTimeOffset.Parse((string)a["end"]!, CultureInfo.InvariantCulture))!);
        factory.Time.Advance(TimeSpan.FromMinutes(1));
        using var cancel = await client.PatchAsync(new Uri($"{L01}/appointments/{(string)a["id"]!}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}"""));
        var cancelled = await cancel.JsonAsync(HttpStatusCode.OK);
        var cancelledAt = (string)cancelled["updated_at"]!;
        Assert.True(DateTimeOffset.Parse(cancelledAt, CultureInfo.InvariantCulture) > DateTimeOffset.Parse((string)b["updated_at"]!, CultureInfo.InvariantCulture));

        var all = (await client.GetJsonAsync($"{L01}/appointments?updated_since={Query((string)a["updated_at"]!)}")).AsArray();
        Assert.Equal([(string?)a["id"], (string?)b["id"]], all.Select(x => (string?)x!["id"]));
        var changed = (await client.GetJsonAsync($"{L01}/appointments?updated_since={Query(cancelledAt)}")).AsArray();
        Assert.Equal([((string?)a["id"], "cancelled")], changed.Select(x => ((string?)x!["id"], (string?)x["status"])));

        // In UTC just as well, and paged by Link like the list without it.
        var utc = DateTimeOffset.Parse((string)b["updated_at"]!, CultureInfo.InvariantCulture).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture);
        using var paged = await client.GetAsync(new Uri($"{L01}/appointments?limit=1&updated_since={Query(utc)}", UriKind.Relative));
        Assert.Equal((string?)a["id"], (string?)Assert.Single((await paged.JsonAsync(HttpStatusCode.OK)).AsArray())!["id"]);
        Assert.Contains("rel=\"next\"", string.Join(',', paged.Headers.GetValues("Link")), StringComparison.Ordinal);
        Assert.Empty((await client.GetJsonAsync($"{L01}/appointments?updated_since={Query("2026-03-02T10:05:00+01:00")}")).AsArray());
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2026-03-02T10:00:00")]
    public async Task An_instant_that_is_not_one_is_refused(string value)
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync($"{L01}/appointments?updated_since={Query(value)}", HttpStatusCode.BadRequest, "INVALID_FIELD", "updated_since");
    }
}
