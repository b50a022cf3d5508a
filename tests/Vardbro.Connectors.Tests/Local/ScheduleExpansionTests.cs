using Vardbro.Connectors.Local;

namespace Vardbro.Connectors.Tests.Local;

/// <summary>Schedule expansion on its own: weekly rules in local time across daylight saving, single windows, bounds, overlaps.</summary>
public sealed class ScheduleExpansionTests
{
    private static readonly TimeZoneInfo Stockholm = TimeZones.Find("Europe/Stockholm");

    private static ScheduleRow Weekly(int weekdays, int startMinute, int endMinute, DateOnly from, DateOnly? until = null, string services = "") => new()
    {
        Emr = "e", Id = "sch", CareUnitId = "u", ResourceId = "r", Weekdays = weekdays, StartMinute = startMinute, EndMinute = endMinute,
        FromDate = from, UntilDate = until, ServiceIds = services,
    };

    private static ScheduleRow Window(DateTimeOffset start, DateTimeOffset end) => new()
    {
        Emr = "e", Id = "one", CareUnitId = "u", ResourceId = "r", StartUtc = start, EndUtc = end,
    };

    private const int Weekdays = 0b0111110; // Monday–Friday

    [Fact]
    public void A_weekly_rule_keeps_its_local_hours_across_the_spring_change()
    {
        // Sunday 2026-03-29 Stockholm moves from +01:00 to +02:00.
        var rule = Weekly(Weekdays, 8 * 60, 16 * 60, new DateOnly(2026, 3, 1));
        var windows = ScheduleExpansion.Expand(rule, Stockholm, new DateTimeOffset(2026, 3, 27, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero)).ToList();
        Assert.Equal(
            [new DateTimeOffset(2026, 3, 27, 7, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 30, 6, 0, 0, TimeSpan.Zero)],
            windows.Select(w => w.Start.ToUniversalTime()));
        Assert.All(windows, w => Assert.Equal(TimeSpan.FromHours(8), w.End - w.Start));
        Assert.Equal(["sch-20260327", "sch-20260330"], windows.Select(w => w.Id));
    }

    [Fact]
    public void A_weekly_rule_starts_on_its_from_date_ends_on_its_until_date_and_can_run_to_midnight()
    {
        var rule = Weekly(0b1111111, 20 * 60, 24 * 60, new DateOnly(2026, 6, 10), new DateOnly(2026, 6, 12), "a b");
        var windows = ScheduleExpansion.Expand(rule, Stockholm, new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 6, 30, 0, 0, 0, TimeSpan.Zero)).ToList();
        Assert.Equal(3, windows.Count);
        Assert.Equal(new DateTimeOffset(2026, 6, 10, 20, 0, 0, TimeSpan.FromHours(2)), windows[0].Start);
        Assert.Equal(new DateTimeOffset(2026, 6, 11, 0, 0, 0, TimeSpan.FromHours(2)), windows[0].End);
        Assert.Equal(["a", "b"], windows[0].HealthcareServiceIds);
    }

    [Fact]
    public void A_single_window_is_listed_only_where_it_meets_the_range()
    {
        var start = new DateTimeOffset(2026, 5, 4, 8, 0, 0, TimeSpan.Zero);
        var row = Window(start, start.AddHours(2));
        Assert.Single(ScheduleExpansion.Expand(row, Stockholm, start.AddHours(1), start.AddHours(5)));
        Assert.Empty(ScheduleExpansion.Expand(row, Stockholm, start.AddHours(2), start.AddHours(5)));
        Assert.Empty(ScheduleExpansion.Expand(row, Stockholm, start.AddHours(-5), start));
    }

    [Fact]
    public void Overlaps_compare_rules_with_rules_and_windows_with_rules()
    {
        var mornings = Weekly(Weekdays, 8 * 60, 12 * 60, new DateOnly(2026, 1, 1));
        var afternoons = Weekly(Weekdays, 12 * 60, 16 * 60, new DateOnly(2026, 1, 1));
        var weekends = Weekly(0b1000001, 8 * 60, 12 * 60, new DateOnly(2026, 1, 1));
        var later = Weekly(Weekdays, 9 * 60, 10 * 60, new DateOnly(2027, 1, 1));
        var ended = Weekly(Weekdays, 9 * 60, 10 * 60, new DateOnly(2025, 1, 1), new DateOnly(2025, 12, 31));
        Assert.False(ScheduleExpansion.Overlaps(mornings, afternoons, Stockholm));
        Assert.False(ScheduleExpansion.Overlaps(mornings, weekends, Stockholm));
        Assert.True(ScheduleExpansion.Overlaps(mornings, later, Stockholm));
        Assert.False(ScheduleExpansion.Overlaps(mornings, ended, Stockholm));

        // Monday 2026-05-04 10:00–11:00 local lies in the mornings; Saturday's does not.
        var monday = Window(new DateTimeOffset(2026, 5, 4, 8, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 5, 4, 9, 0, 0, TimeSpan.Zero));
        var saturday = Window(new DateTimeOffset(2026, 5, 9, 8, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 5, 9, 9, 0, 0, TimeSpan.Zero));
        Assert.True(ScheduleExpansion.Overlaps(monday, mornings, Stockholm));
        Assert.True(ScheduleExpansion.Overlaps(mornings, monday, Stockholm));
        Assert.False(ScheduleExpansion.Overlaps(saturday, mornings, Stockholm));
    }
}
