using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>Two server processes on one database race for one slot: exactly one booking.</summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class TwoInstanceBookingTests
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [Fact]
    public async Task Two_processes_racing_for_one_slot_book_it_once()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);

        using var probe = first.Sandbox();
        var slots = (await probe.GetJsonAsync($"{L01}/timeslots?resource_id=1001&healthcare_service_id=L0_1-general")).AsArray();
        Assert.True(slots.Count >= 3);

        // Three rounds, each a different slot, 20 requests a round split over both processes.
        foreach (var slot in slots.Take(3))
        {
            var statuses = await BookingRace.RunAsync(first, second, $"{L01}/appointments", slot!, "1001");
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Created));
            Assert.Equal(19, statuses.Count(s => s == HttpStatusCode.Conflict));
        }

        using var check = second.Sandbox();
        var booked = (await check.GetJsonAsync($"{L01}/appointments?resource_id=1001&status=booked")).AsArray();
        Assert.Equal(3, booked.Count);
        Assert.Equal(3, booked.Select(a => (string)a!["start"]!).Distinct().Count());
    }
}
