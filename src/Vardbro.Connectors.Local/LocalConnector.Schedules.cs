using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>Working windows of the built-in EHR's resources: single windows and weekly rules.</summary>
public sealed partial class LocalConnector
{
    private IQueryable<ScheduleRow> Schedules => db.Set<ScheduleRow>().AsNoTracking().Where(x => x.Emr == emr);

    private string ResourceLock(string resourceId) => $"resource/{emr}/{resourceId}";

    public async Task<IReadOnlyList<ScheduleWindow>> ListScheduleWindowsAsync(string careUnitId, string resourceId, DateTimeOffset rangeStart, DateTimeOffset rangeEnd, CancellationToken cancellationToken)
    {
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var rows = await Schedules.Where(x => x.CareUnitId == careUnitId && x.ResourceId == resourceId).ToListAsync(cancellationToken);
        return rows.SelectMany(r => ScheduleExpansion.Expand(r, zone, rangeStart.ToUniversalTime(), rangeEnd.ToUniversalTime()))
            .OrderBy(w => w.Start).ThenBy(w => w.Id, StringComparer.Ordinal).ToList();
    }

    public async Task<Schedule> CreateScheduleAsync(string careUnitId, string resourceId, NewSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var serviceIds = (await ListHealthcareServicesAsync(careUnitId, cancellationToken)).Select(x => x.Id).ToList();
        for (var i = 0; i < schedule.HealthcareServiceIds.Count; i++)
        {
            if (!serviceIds.Contains(schedule.HealthcareServiceIds[i]))
            {
                throw new VardbroException(ErrorCodes.InvalidHealthcareServiceId, "No healthcare service with that id at this care unit.", $"healthcare_service_ids[{i}]");
            }
        }

        var row = new ScheduleRow
        {
            Emr = emr,
            Id = NewId("sch_"),
            CareUnitId = careUnitId,
            ResourceId = resourceId,
            ServiceIds = string.Join(' ', schedule.HealthcareServiceIds.Distinct(StringComparer.Ordinal)),
        };
        if (schedule.Recurrence is { } rule)
        {
            row.Weekdays = rule.Weekdays.Aggregate(0, (mask, day) => mask | (1 << (int)day));
            row.StartMinute = (rule.StartTime.Hour * 60) + rule.StartTime.Minute;
            row.EndMinute = (rule.EndTime.Hour * 60) + rule.EndTime.Minute;
            row.FromDate = rule.From;
            row.UntilDate = rule.Until;
        }
        else
        {
            row.StartUtc = schedule.Start!.Value.ToUniversalTime();
            row.EndUtc = schedule.End!.Value.ToUniversalTime();
        }

        return await SerializedWrites.RunAsync(db, ResourceLock(resourceId), async () =>
        {
            var existing = await Schedules.Where(x => x.ResourceId == resourceId).ToListAsync(cancellationToken);
            if (existing.Exists(other => ScheduleExpansion.Overlaps(row, other, zone)))
            {
                throw new ConflictException(ErrorCodes.BadInput, "The schedule overlaps an existing working window of this resource.", "start");
            }

            await AddAsync(row, cancellationToken);
            return ToRecord(row);
        }, cancellationToken);
    }

    private static Schedule ToRecord(ScheduleRow x) => new(
        x.Id, x.ResourceId, x.CareUnitId, x.StartUtc, x.EndUtc,
        x.Weekdays == 0
            ? null
            : new WeeklyRecurrence(
                Enum.GetValues<DayOfWeek>().Where(d => (x.Weekdays & (1 << (int)d)) != 0).ToList(),
                TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(x.StartMinute % (24 * 60))),
                TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(x.EndMinute % (24 * 60))),
                x.FromDate!.Value,
                x.UntilDate),
        ScheduleExpansion.ServiceList(x.ServiceIds));
}
