using Vardbro.Connectors;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.Resources;
using Vardbro.Server.Features.Schedules;

namespace Vardbro.Server.Features.Timeslots;

/// <summary>The query of a timeslot list, shared by the JSON route and its FHIR twin.</summary>
public sealed record TimeslotListQuery(string? start, string? end, string? resource_id, string? healthcare_service_id);

public sealed record TimeslotResponse(DateTimeOffset Start, DateTimeOffset End, string ResourceId, string? HealthcareServiceId, string CareUnitId)
{
    public static TimeslotResponse From(Timeslot x, TimeZoneInfo zone) =>
        new(TimeZoneInfo.ConvertTime(x.Start, zone), TimeZoneInfo.ConvertTime(x.End, zone), x.ResourceId, x.HealthcareServiceId, x.CareUnitId);
}

public static class TimeslotsEndpoints
{
    public const int MaxRangeDays = 90;

    public static void MapTimeslots(this IEndpointRouteBuilder careUnit)
    {
        careUnit.MapGet("/timeslots", ListTimeslots)
            .WithTags("Availability")
            .WithName("ListTimeslots")
            .WithSummary("Free, bookable timeslots between start and end (default: now to 14 days ahead, at most 90 days), sorted by start then resource.");
    }

    public static async Task<Ok<TimeslotResponse[]>> ListTimeslots([AsParameters] CareUnitScope scope, [AsParameters] TimeslotListQuery query)
    {
        var (unit, slots) = await ListAsync(scope, query);
        var zone = TimeZones.Find(unit.TimeZone); // once, not twice per slot
        return TypedResults.Ok(slots.Select(s => TimeslotResponse.From(s, zone)).ToArray());
    }

    /// <summary>The free timeslots a query asks for, checked and listed (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<Timeslot> Slots)> ListAsync(CareUnitScope scope, TimeslotListQuery query)
    {
        var (start, end, resource_id, healthcare_service_id) = query;
        var unit = scope.Unit;
        var (from, to) = QueryRange.Read(start, end, scope.Time, MaxRangeDays);
        string? resourceId = null;
        if (!string.IsNullOrEmpty(resource_id))
        {
            resourceId = (await ResourcesEndpoints.RequireAsync(scope, resource_id)).Id;
        }

        if (!string.IsNullOrEmpty(healthcare_service_id))
        {
            await HealthcareServicesEndpoints.RequireAsync(scope, healthcare_service_id);
        }

        var slots = await scope.Require<IScheduling>().ListTimeslotsAsync(
            unit.Id, new TimeslotQuery(from, to, resourceId, string.IsNullOrEmpty(healthcare_service_id) ? null : healthcare_service_id), scope.CancellationToken);
        return (unit, slots);
    }
}
