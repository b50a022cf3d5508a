namespace Vardbro.Connectors;

/// <summary>IANA time zones, and local wall-clock times turned into instants.</summary>
public static class TimeZones
{
    public const string Default = "Europe/Stockholm";

    public static TimeZoneInfo Find(string? id) =>
        TryFind(id ?? Default, out var zone) ? zone : TimeZoneInfo.Utc;

    // The system's lookup takes a process-wide lock, and a timeslot list looks its zone up per slot.
    // Only zones that exist are kept, so the dictionary is bounded by the system's list.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, TimeZoneInfo> Found = new(StringComparer.Ordinal);

    public static bool TryFind(string id, out TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (Found.TryGetValue(id, out var known))
        {
            zone = known;
            return true;
        }

        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            Found.TryAdd(id, zone);
            return true;
        }
        catch (TimeZoneNotFoundException)
        {
        }
        catch (InvalidTimeZoneException)
        {
        }

        zone = TimeZoneInfo.Utc;
        return false;
    }

    /// <summary>
    /// The instant of a local date and time. A time that falls in a spring-forward gap moves forward
    /// by the gap; an autumn time that occurs twice is taken at its first occurrence.
    /// </summary>
    public static DateTimeOffset ToInstant(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            local = local.AddHours(1);
        }

        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    /// <summary>The local date of an instant.</summary>
    public static DateOnly LocalDate(DateTimeOffset instant, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime);
}
