using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
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

    public static async Task<Ok<TimeslotResponse[]>> ListTimeslots(
        string emr, string care_unit_id, [AsParameters] TimeslotListQuery query, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, slots) = await ListAsync(emr, care_unit_id, query, connectors, time, cancellationToken);
        var zone = TimeZones.Find(unit.TimeZone); // once, not twice per slot
        return TypedResults.Ok(slots.Select(s => TimeslotResponse.From(s, zone)).ToArray());
    }

    /// <summary>The free timeslots a query asks for, checked and listed (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<Timeslot> Slots)> ListAsync(
        string emr, string care_unit_id, TimeslotListQuery query, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (start, end, resource_id, healthcare_service_id) = query;
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var (from, to) = QueryRange.Read(start, end, time, MaxRangeDays);
        string? resourceId = null;
        if (!string.IsNullOrEmpty(resource_id))
        {
            resourceId = (await SchedulesEndpoints.RequireResourceAsync(connectors, emr, unit, resource_id, time, cancellationToken)).Id;
        }

        if (!string.IsNullOrEmpty(healthcare_service_id))
        {
            await HealthcareServiceIds.RequireAsync(connectors, emr, unit.Id, healthcare_service_id, "healthcare_service_id", cancellationToken);
        }

        var slots = await connectors.Require<IScheduling>(emr).ListTimeslotsAsync(
            unit.Id, new TimeslotQuery(from, to, resourceId, string.IsNullOrEmpty(healthcare_service_id) ? null : healthcare_service_id), cancellationToken);
        return (unit, slots);
    }
}

public static class HealthcareServiceIds
{
    public static async Task<HealthcareService> RequireAsync(EmrConnectors connectors, string emr, string careUnitId, string serviceId, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectors);
        var services = await connectors.Require<ICareUnitDirectory>(emr).ListHealthcareServicesAsync(careUnitId, cancellationToken);
        return services.FirstOrDefault(s => s.Id == serviceId)
            ?? throw new VardbroException(ErrorCodes.InvalidHealthcareServiceId, "No healthcare service with that id at this care unit.", path);
    }
}
