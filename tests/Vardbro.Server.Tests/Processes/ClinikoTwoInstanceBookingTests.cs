using System.Net;
using Vardbro.Server.Tests.Cliniko;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// Two server processes on one database booking the same Cliniko time at once. Cliniko itself
/// accepts overlapping appointments (so does the peer); Vardbro's per-practitioner serialization
/// through the shared store (an advisory lock on PostgreSQL) lets exactly one through.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class ClinikoTwoInstanceBookingTests
{
    [Fact]
    public async Task Two_processes_racing_for_one_cliniko_slot_book_it_once()
    {
        await using var peer = await ClinikoPeer.StartAsync();

        // The race is about bookings, not the rate limit: neither side runs out of budget.
        await peer.SetRateLimitAsync(100_000);
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        foreach (var (key, value) in ClinikoEmrFactory.EmrSettings(peer))
        {
            settings[key] = value;
        }

        settings["Emrs:webdoc:RequestsPerMinute"] = "100000";
        settings["Emrs:webdoc:TimeoutSeconds"] = "30";

        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        using var probe = first.Sandbox();
        var slots = (await probe.GetJsonAsync($"{ClinikoEmrFactory.Unit}/timeslots?resource_id={ClinikoPeer.Anna}&healthcare_service_id={ClinikoPeer.Nybesok}")).AsArray();

        // Every other listed start: with 15-minute steps, neighbours overlap.
        foreach (var slot in slots.Where((_, i) => i % 2 == 0).Take(3))
        {
            var statuses = await BookingRace.RunAsync(first, second, $"{ClinikoEmrFactory.Unit}/appointments", slot!, ClinikoPeer.Anna);
            Assert.True(statuses.All(s => s is HttpStatusCode.Created or HttpStatusCode.Conflict), string.Join(", ", statuses));
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Created));
        }

        // Cliniko holds three appointments of Anna, none overlapping another.
        var log = await peer.RequestsAsync();
        Assert.Equal(3, log.Count(r => r.Method == "POST" && r.Path == "/v1/individual_appointments" && r.Status == 201));
        var booked = (await peer.ApiAsync(HttpMethod.Get, $"individual_appointments?q[]=practitioner_id:={ClinikoPeer.Anna}&q[]=cancelled_at:!?&per_page=100"))!.Value
            .GetProperty("individual_appointments").EnumerateArray()
            .Where(a => a.GetProperty("deleted_at").ValueKind == System.Text.Json.JsonValueKind.Null)
            .Select(a => (Start: a.GetProperty("starts_at").GetDateTimeOffset(), End: a.GetProperty("ends_at").GetDateTimeOffset()))
            .Where(a => a.Start > TimeProvider.System.GetUtcNow())
            .OrderBy(a => a.Start)
            .ToList();
        Assert.Equal(3, booked.Count);
        Assert.All(booked.Zip(booked.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.Start));
    }
}
