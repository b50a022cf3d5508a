using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// Two server processes booking the same FHIR Slot at once, on a server of each booking profile
/// (tests/fhir-peer profiles): slot-update (Medplum), appointment-with-slot (Oracle Health
/// Millennium), find-book (Epic's $find/$book): the FHIR server lets exactly one through.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class FhirTwoInstanceBookingTests
{
    [Theory]
    [InlineData("default")]
    [InlineData("oracle")]
    [InlineData("epic")]
    public async Task Two_processes_racing_for_one_fhir_slot_book_it_once(string profile)
    {
        await using var peer = await FhirPeer.StartAsync(profile);
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        foreach (var (key, value) in FhirEmrFactory.EmrSettings(peer))
        {
            settings[key] = value;
        }

        // Forty bookings at once queue up at the peer, which serves one request at a time.
        settings["Emrs:webdoc:TimeoutSeconds"] = "20";

        // Millennium refuses _sort; Vardbro sends it only where the CapabilityStatement declares it.
        settings["Emrs:webdoc:Sort"] = profile == "oracle" ? "declared" : "always";

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

        // The FHIR server made three Appointments (a create, or a $book), at three different times.
        var log = await peer.RequestsAsync();
        var made = log.Where(r => r.Method == "POST" && r.Status == 201 && (r.Url.EndsWith("/Appointment", StringComparison.Ordinal) || r.Url.Contains("$book", StringComparison.Ordinal))).ToList();
        Assert.Equal(3, made.Count);
        using var check = second.Sandbox();
        var stillFree = (await check.GetJsonAsync($"{FhirEmrFactory.Unit}/timeslots?resource_id={FhirPeer.Anna}")).AsArray().Select(s => (string)s!["start"]!).ToHashSet();
        Assert.All(slots.Take(3), s => Assert.DoesNotContain((string)s!["start"]!, stillFree));
    }
}
