using Microsoft.EntityFrameworkCore;

namespace Vardbro.Connectors.Local;

/// <summary>Timeslots: service-length pieces of the working windows that no held appointment overlaps.</summary>
public sealed partial class LocalConnector
{
    public async Task<IReadOnlyList<Timeslot>> ListTimeslotsAsync(string careUnitId, TimeslotQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return await SlotsAsync(careUnitId, query.Start.ToUniversalTime(), query.End.ToUniversalTime(), query.ResourceId, query.HealthcareServiceId, freeOnly: true, cancellationToken);
    }

    /// <summary>
    /// Service-length pieces of the working windows, aligned to each window's start, starting in
    /// [from, to) and after now; with <paramref name="freeOnly"/> only those no appointment holding
    /// its slot overlaps.
    /// </summary>
    private async Task<List<Timeslot>> SlotsAsync(
        string careUnitId, DateTimeOffset from, DateTimeOffset to, string? resourceId, string? serviceId, bool freeOnly, CancellationToken cancellationToken)
    {
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var now = Now();
        var services = (await ListHealthcareServicesAsync(careUnitId, cancellationToken)).ToDictionary(x => x.Id, x => x.DurationMinutes, StringComparer.Ordinal);
        if (services.Count == 0)
        {
            return [];
        }

        var longest = TimeSpan.FromMinutes(services.Values.Max());
        var scheduleRows = resourceId is not null
            ? await reads.SchedulesOfResourceAsync(careUnitId, resourceId, cancellationToken)
            : await Schedules.Where(x => x.CareUnitId == careUnitId).ToListAsync(cancellationToken);

        var busy = new Dictionary<string, List<BusyTime>>(StringComparer.Ordinal);
        if (freeOnly)
        {
            var until = to + longest;
            var taken = resourceId is not null
                ? await reads.BusyTimesOfResourceAsync(careUnitId, resourceId, now, from, until, cancellationToken)
                : await BusyTimesOfCareUnitAsync(careUnitId, now, from, until, cancellationToken);
            foreach (var a in taken)
            {
                if (!busy.TryGetValue(a.ResourceId, out var list))
                {
                    busy[a.ResourceId] = list = [];
                }

                list.Add(a);
            }
        }

        var slots = new List<Timeslot>();
        foreach (var window in scheduleRows.SelectMany(r => ScheduleExpansion.Expand(r, zone, from - longest, to)))
        {
            var allowed = window.HealthcareServiceIds.Count == 0 ? services.Keys.ToList() : window.HealthcareServiceIds.Where(services.ContainsKey).ToList();
            busy.TryGetValue(window.ResourceId, out var taken);
            foreach (var service in allowed)
            {
                if (serviceId is not null && service != serviceId)
                {
                    continue;
                }

                var length = TimeSpan.FromMinutes(services[service]);
                for (var start = window.Start; start + length <= window.End; start += length)
                {
                    if (start < from || start >= to || start <= now)
                    {
                        continue;
                    }

                    var end = start + length;
                    if (taken is not null && taken.Exists(t => t.StartUtc < end && start < t.EndUtc))
                    {
                        continue;
                    }

                    slots.Add(new Timeslot(start, end, window.ResourceId, service, careUnitId));
                }
            }
        }

        slots.Sort((a, b) =>
        {
            var byStart = a.Start.CompareTo(b.Start);
            if (byStart != 0)
            {
                return byStart;
            }

            var byResource = string.CompareOrdinal(a.ResourceId, b.ResourceId);
            return byResource != 0 ? byResource : string.CompareOrdinal(a.HealthcareServiceId, b.HealthcareServiceId);
        });
        return slots;
    }

    /// <summary>What held appointments occupy of every resource of the care unit in [from, until) (the less common, unfiltered listing).</summary>
    private Task<List<BusyTime>> BusyTimesOfCareUnitAsync(string careUnitId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var startsAfter = from - AppointmentRules.LongestAppointment;
        return Appointments.AsNoTracking()
            .Where(a => a.CareUnitId == careUnitId && a.StartUtc < until && a.EndUtc > from && a.StartUtc > startsAfter)
            .Where(AppointmentRules.HoldsSlot(now))
            .Select(a => new BusyTime(a.ResourceId, a.StartUtc, a.EndUtc))
            .ToListAsync(cancellationToken);
    }
}
