using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary>Care unit L0_2 confirms bookings with a code sent to the patient's phone.</summary>
public sealed partial class ConfirmationTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    [GeneratedRegex(@"\b(\d{6})\b")]
    private static partial Regex SixDigits();

    private async Task<(JsonNode Appointment, string Code, JsonNode Slot)> BookAsync(HttpClient client, int slotIndex)
    {
        var slots = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general&start=2026-03-09T07:00:00Z&end=2026-03-09T15:00:00Z")).AsArray();
        var slot = slots[slotIndex]!;
        var booked = await client.PostJsonAsync($"{L02}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:191212121212",
            resource_id = (string)slot["resource_id"]!,
        }, HttpStatusCode.Created);
        var appointment = booked[0]!;
        Assert.Equal("awaiting_confirmation", (string?)appointment["status"]);

        using var admin = factory.Admin();
        var outbox = (await admin.GetJsonAsync("/api/admin/outbox")).AsArray();
        var message = outbox.First(m => (string?)m!["appointment_id"] == (string)appointment["id"]!)!;
        Assert.Equal("+46001234567", (string?)message["to"]);
        Assert.Equal("sms", (string?)message["channel"]);
        return (appointment, SixDigits().Match((string)message["body"]!).Groups[1].Value, slot);
    }

    private static async Task<HttpResponseMessage> ConfirmAsync(HttpClient client, JsonNode appointment, string code) =>
        await client.PatchAsync(new Uri($"{L02}/appointments/{(string)appointment["id"]!}", UriKind.Relative), JsonContent.Of(new JsonObject { ["confirmation"] = new JsonObject { ["code"] = code } }.ToJsonString()));

    private static string Wrong(string code) => ((int.Parse(code, System.Globalization.CultureInfo.InvariantCulture) + 1) % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<bool> SlotIsFreeAsync(HttpClient client, JsonNode slot)
    {
        var slots = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general&start=2026-03-09T07:00:00Z&end=2026-03-09T15:00:00Z")).AsArray();
        return slots.Any(s => (string?)s!["start"] == (string?)slot["start"]);
    }

    [Fact]
    public async Task The_right_code_books_it()
    {
        using var client = factory.Sandbox();
        var (appointment, code, slot) = await BookAsync(client, 0);
        Assert.False(await SlotIsFreeAsync(client, slot)); // held while awaiting confirmation

        using (var wrong = await ConfirmAsync(client, appointment, Wrong(code)))
        {
            await wrong.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_CONFIRMATION_CODE", "confirmation.code");
        }

        using var right = await ConfirmAsync(client, appointment, code);
        var confirmed = await right.JsonAsync(HttpStatusCode.OK);
        Assert.Equal("booked", (string?)confirmed["status"]);

        using var again = await ConfirmAsync(client, appointment, code);
        await again.ProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Five_wrong_codes_cancel_it_and_free_the_slot()
    {
        using var client = factory.Sandbox();
        var (appointment, code, slot) = await BookAsync(client, 2);
        for (var i = 0; i < 5; i++)
        {
            using var wrong = await ConfirmAsync(client, appointment, Wrong(code));
            await wrong.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_CONFIRMATION_CODE");
        }

        Assert.Equal("cancelled", (string?)(await client.GetJsonAsync($"{L02}/appointments/{(string)appointment["id"]!}"))["status"]);
        Assert.True(await SlotIsFreeAsync(client, slot));
        using var late = await ConfirmAsync(client, appointment, code);
        await late.ProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task An_expired_code_cancels_it_and_frees_the_slot()
    {
        using var own = new FakeClockFactory();
        using var client = own.Sandbox();
        var slots = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general&start=2026-03-09T07:00:00Z&end=2026-03-09T15:00:00Z")).AsArray();
        var slot = slots[4]!;
        var appointment = (await client.PostJsonAsync($"{L02}/appointments", new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:191212121212" }, HttpStatusCode.Created))[0]!;
        using var admin = own.Admin();
        var body = (string)(await admin.GetJsonAsync("/api/admin/outbox"))[0]!["body"]!;
        var code = SixDigits().Match(body).Groups[1].Value;

        // Both shapes of the timeslot query: every resource, and the one resource (read apart on SQLite).
        var ofResource = $"{L02}/timeslots?healthcare_service_id=L0_2-general&resource_id={(string)slot["resource_id"]!}&start=2026-03-09T07:00:00Z&end=2026-03-09T15:00:00Z";
        own.Time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal("awaiting_confirmation", (string?)(await client.GetJsonAsync($"{L02}/appointments/{(string)appointment["id"]!}"))["status"]);
        Assert.DoesNotContain((await client.GetJsonAsync(ofResource)).AsArray(), s => (string?)s!["start"] == (string?)slot["start"]);
        own.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Contains((await client.GetJsonAsync(ofResource)).AsArray(), s => (string?)s!["start"] == (string?)slot["start"]);
        Assert.Equal("cancelled", (string?)(await client.GetJsonAsync($"{L02}/appointments/{(string)appointment["id"]!}"))["status"]);
        var free = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general&start=2026-03-09T07:00:00Z&end=2026-03-09T15:00:00Z")).AsArray();
        Assert.Contains(free, s => (string?)s!["start"] == (string?)slot["start"]);

        using var late = await client.PatchAsync(new Uri($"{L02}/appointments/{(string)appointment["id"]!}", UriKind.Relative), JsonContent.Of(new JsonObject { ["confirmation"] = new JsonObject { ["code"] = code } }.ToJsonString()));
        await late.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_CONFIRMATION_CODE");
        Assert.Equal("cancelled", (string?)(await client.GetJsonAsync($"{L02}/appointments/{(string)appointment["id"]!}"))["status"]);
    }

    [Fact]
    public async Task A_patient_without_a_phone_cannot_book_where_confirmation_is_required()
    {
        using var client = factory.Sandbox();
        await client.PostJsonAsync($"{L02}/patients", """{"first_name":"Utan","last_name":"Telefon","external_id":"194912062306"}""", HttpStatusCode.Created);
        var slot = (await client.GetJsonAsync($"{L02}/timeslots?healthcare_service_id=L0_2-general&start=2026-03-10T07:00:00Z&end=2026-03-10T15:00:00Z"))[0]!;
        await client.PostProblemAsync($"{L02}/appointments", new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:194912062306" }, HttpStatusCode.BadRequest, "INVALID_PATIENT_ID", "patient_id");
    }
}
