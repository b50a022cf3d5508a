namespace Vardbro.Connectors.Local;

/// <summary>
/// A stored schedule as the working windows it means: one window, or a weekly rule in the care unit's
/// local time (across daylight-saving changes). Pure: no store, no clock; tested on its own.
/// </summary>
internal static class ScheduleExpansion
{
    /// <summary>The windows of a schedule that overlap [from, to), in the zone of its care unit.</summary>
    public static IEnumerable<ScheduleWindow> Expand(ScheduleRow row, TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(row);
        var services = ServiceList(row.ServiceIds);
        if (row.Weekdays == 0)
        {
            if (row.StartUtc < to && from < row.EndUtc)
            {
                yield return new ScheduleWindow(row.Id, row.Id, row.ResourceId, row.CareUnitId, row.StartUtc!.Value, row.EndUtc!.Value, services);
            }

            yield break;
        }

        var first = TimeZones.LocalDate(from, zone).AddDays(-1);
        var last = TimeZones.LocalDate(to, zone);
        if (row.FromDate > first)
        {
            first = row.FromDate.Value;
        }

        if (row.UntilDate is { } until && until < last)
        {
            last = until;
        }

        var startTime = TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(row.StartMinute));
        var endTime = TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(row.EndMinute == 24 * 60 ? (24 * 60) - 1 : row.EndMinute));
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            if ((row.Weekdays & (1 << (int)day.DayOfWeek)) == 0)
            {
                continue;
            }

            var start = TimeZones.ToInstant(day, startTime, zone);
            var end = row.EndMinute == 24 * 60
                ? TimeZones.ToInstant(day.AddDays(1), TimeOnly.MinValue, zone)
                : TimeZones.ToInstant(day, endTime, zone);
            if (start < to && from < end)
            {
                yield return new ScheduleWindow($"{row.Id}-{day:yyyyMMdd}", row.Id, row.ResourceId, row.CareUnitId, start, end, services);
            }
        }
    }

    /// <summary>Whether two schedules of one resource would ever offer the same moment.</summary>
    public static bool Overlaps(ScheduleRow a, ScheduleRow b, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Weekdays != 0 && b.Weekdays != 0)
        {
            var datesMeet = (a.UntilDate is null || b.FromDate <= a.UntilDate) && (b.UntilDate is null || a.FromDate <= b.UntilDate);
            return (a.Weekdays & b.Weekdays) != 0 && datesMeet && a.StartMinute < b.EndMinute && b.StartMinute < a.EndMinute;
        }

        if (a.Weekdays != 0)
        {
            return Overlaps(b, a, zone);
        }

        // a is one window; compare it with b's windows around it.
        var from = a.StartUtc!.Value.AddDays(-2);
        var to = a.EndUtc!.Value.AddDays(2);
        return Expand(b, zone, from, to).Any(w => w.Start < a.EndUtc && a.StartUtc < w.End);
    }

    public static string[] ServiceList(string ids) =>
        ids.Length == 0 ? [] : ids.Split(' ');
}
