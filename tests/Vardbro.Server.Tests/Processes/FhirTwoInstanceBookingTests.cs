using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Processes;

/// <summary>Two server processes booking the same FHIR Slot at once: the FHIR server lets exactly one through.</summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class FhirTwoInstanceBookingTests
{
    [Fact]
    public async Task Two_processes_racing_for_one_fhir_slot_book_it_once()
    {
        await using var peer = await FhirPeer.StartAsync();
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        foreach (var (key, value) in FhirEmrFactory.EmrSettings(peer))
        {
            settings[key] = value;
        }

        // Forty bookings at once queue up at the peer, which serves one request at a time.
        settings["Emrs:webdoc:TimeoutSeconds"] = "20";

        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        using var probe = first.Sandbox();
        var slots = (await probe.GetJsonAsync($"{FhirEmrFactory.Unit}/timeslots?resource_id={FhirPeer.Anna}")).AsArray();

        foreach (var slot in slots.Take(3))
        {
            var statuses = await BookingRace.RunAsync(first, second, $"{FhirEmrFactory.Unit}/appointments", slot!, FhirPeer.Anna);
            Assert.True(statuses.All(s => s is HttpStatusCode.Created or HttpStatusCode.Conflict), string.Join(", ", statuses));
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Created));
            Assert.Equal(19, statuses.Count(s => s == HttpStatusCode.Conflict));
        }

        // The FHIR server holds three Appointments and three busy Slots, at three different times.
        var log = await peer.RequestsAsync();
        Assert.Equal(3, log.Count(r => r.Method == "POST" && r.Url.Contains("/Appointment", StringComparison.Ordinal) && r.Status == 201));
        using var check = second.Sandbox();
        var booked = (await check.GetJsonAsync($"{FhirEmrFactory.Unit}/appointments?resource_id={FhirPeer.Anna}&status=booked")).AsArray();
        Assert.Equal(3, booked.Select(a => (string)a!["start"]!).Distinct().Count());
    }
}
