using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Appointments;

/// <summary>
/// Many clients booking, moving and cancelling over a few crowded days: afterwards no two active
/// appointments of one resource overlap, checked by a query on the database itself.
/// </summary>
public sealed class RandomizedBookingTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [Fact]
    public async Task Five_hundred_mixed_requests_from_16_clients_leave_no_overlap()
    {
        using var setup = factory.Sandbox();
        // Both services: 15- and 30-minute slots that overlap each other, so moves and bookings collide.
        var slots = (await setup.GetJsonAsync($"{L01}/timeslots?resource_id=1001")).AsArray()
            .Concat((await setup.GetJsonAsync($"{L01}/timeslots?resource_id=1002")).AsArray())
            .Select(s => (Start: (string)s!["start"]!, End: (string)s["end"]!, Resource: (string)s["resource_id"]!))
            .ToList();
        var days = slots.Select(s => s.Start[..10]).Distinct().Take(2).ToHashSet();
        slots = slots.Where(s => days.Contains(s.Start[..10])).ToList();
        Assert.True(slots.Count > 50);

        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        var workers = Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker * 7919);
            using var client = factory.Sandbox();
            var mine = new List<string>();
            for (var i = 0; i < 32; i++)
            {
                var op = random.Next(10);
                HttpResponseMessage response;
                if (op < 5 || mine.Count == 0)
                {
                    var slot = slots[random.Next(slots.Count)];
                    var body = new JsonObject { ["start"] = slot.Start, ["end"] = slot.End, ["patient_id"] = "se_personal_number:191212121212", ["resource_id"] = slot.Resource }.ToJsonString();
                    response = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(body));
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        mine.Add((string)JsonNode.Parse(await response.Content.ReadAsStringAsync())![0]!["id"]!);
                    }
                }
                else if (op < 8)
                {
                    var slot = slots[random.Next(slots.Count)];
                    var id = mine[random.Next(mine.Count)];
                    var body = new JsonObject { ["start"] = slot.Start, ["end"] = slot.End, ["resource_id"] = slot.Resource }.ToJsonString();
                    response = await client.PatchAsync(new Uri($"{L01}/appointments/{id}", UriKind.Relative), JsonContent.Of(body));
                }
                else
                {
                    var id = mine[random.Next(mine.Count)];
                    mine.Remove(id);
                    response = await client.PatchAsync(new Uri($"{L01}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}"""));
                }

                statuses.Add(response.StatusCode);
                response.Dispose();
            }
        })).ToList();
        await Task.WhenAll(workers);

        Assert.Equal(16 * 32, statuses.Count);
        Assert.DoesNotContain(statuses, s => (int)s >= 500);
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Created, HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.BadRequest }));
        Assert.Contains(HttpStatusCode.Conflict, statuses);

        var overlaps = await factory.WithDbAsync(db => db.Database.SqlQueryRaw<int>("""
            SELECT COUNT(*) AS "Value"
            FROM local_appointments a
            JOIN local_appointments b
              ON a."Emr" = b."Emr" AND a."ResourceId" = b."ResourceId" AND a."Key" < b."Key"
            WHERE a."Status" = 'booked' AND b."Status" = 'booked'
              AND a."StartUtc" < b."EndUtc" AND b."StartUtc" < a."EndUtc"
            """).SingleAsync());
        Assert.Equal(0, overlaps);
        var active = await factory.WithDbAsync(db => db.Database.SqlQueryRaw<int>("""SELECT COUNT(*) AS "Value" FROM local_appointments WHERE "Status" = 'booked'""").SingleAsync());
        Assert.True(active > 5, $"only {active} appointments stayed booked; the run did not exercise the invariant");
    }
}
