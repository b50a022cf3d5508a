using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Features.Resources;

namespace Vardbro.Server.Features.Schedules;

public sealed record RecurrenceBody([property: AllowedValues("mon", "tue", "wed", "thu", "fri", "sat", "sun")] [property: Required] IReadOnlyList<string?>? Weekdays, [property: Required] string? StartTime, [property: Required] string? EndTime, [property: Required] string? From, string? Until);

[OpenApiExample("""{"recurrence": {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start_time": "08:00", "end_time": "16:00", "from": "2026-01-05", "until": null}, "healthcare_service_ids": []}""")]
public sealed record CreateScheduleRequest(string? Start, string? End, RecurrenceBody? Recurrence, IReadOnlyList<string?>? HealthcareServiceIds);

public sealed record RecurrenceResponse([property: AllowedValues("mon", "tue", "wed", "thu", "fri", "sat", "sun")] IReadOnlyList<string> Weekdays, string StartTime, string EndTime, DateOnly From, DateOnly? Until);

public sealed record ScheduleResponse(
    string Id,
    string ResourceId,
    string CareUnitId,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    RecurrenceResponse? Recurrence,
    IReadOnlyList<string> HealthcareServiceIds)
{
    public static ScheduleResponse From(Schedule x, string timeZone) => new(
        x.Id, x.ResourceId, x.CareUnitId,
        x.Start is { } s ? Http.Local(s, timeZone) : null,
        x.End is { } e ? Http.Local(e, timeZone) : null,
        x.Recurrence is { } r
            ? new RecurrenceResponse(r.Weekdays.Select(SchedulesEndpoints.DayName).ToList(), r.StartTime.ToString("HH:mm", CultureInfo.InvariantCulture), r.EndTime.ToString("HH:mm", CultureInfo.InvariantCulture), r.From, r.Until)
            : null,
        x.HealthcareServiceIds);
}

public sealed record ScheduleWindowResponse(string Id, string ScheduleId, string ResourceId, string CareUnitId, DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<string> HealthcareServiceIds)
{
    public static ScheduleWindowResponse From(ScheduleWindow x, string timeZone) =>
        new(x.Id, x.ScheduleId, x.ResourceId, x.CareUnitId, Http.Local(x.Start, timeZone), Http.Local(x.End, timeZone), x.HealthcareServiceIds);
}

public static class SchedulesEndpoints
{
    private static readonly string[] Days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    public static void MapSchedules(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("/resources/{resource_id}/schedules").WithTags("Availability");
        group.MapGet("/", ListSchedules).WithName("ListSchedules").WithSummary("A resource's working windows between start and end (default: the coming 14 days).");
        group.MapPost("/", CreateSchedule).WithName("CreateSchedule").WithSummary("Add one working window, or a weekly rule in the care unit's local time; overlapping windows are refused (409).");
    }

    public static string DayName(DayOfWeek day) => Days[(int)day];

    public static async Task<Ok<ScheduleWindowResponse[]>> ListSchedules([AsParameters] CareUnitScope scope, string resource_id, string? start, string? end)
    {
        var unit = scope.Unit;
        var resource = await ResourcesEndpoints.RequireAsync(scope, resource_id);
        var (from, to) = QueryRange.Read(start, end, scope.Time, maxDays: 366);
        var windows = await scope.Require<IScheduling>().ListScheduleWindowsAsync(unit.Id, resource.Id, from, to, scope.CancellationToken);
        return TypedResults.Ok(windows.Select(w => ScheduleWindowResponse.From(w, unit.TimeZone)).ToArray());
    }

    public static async Task<Created<ScheduleResponse>> CreateSchedule([AsParameters] CareUnitScope scope, string resource_id, CreateScheduleRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var resource = await ResourcesEndpoints.RequireAsync(scope, resource_id);
        var errors = new List<ApiError>();
        var services = new List<string>();
        for (var i = 0; i < (body.HealthcareServiceIds?.Count ?? 0); i++)
        {
            if (Http.Text(body.HealthcareServiceIds![i], $"healthcare_service_ids[{i}]", 128, errors, required: true) is { } id)
            {
                services.Add(id);
            }
        }

        NewSchedule schedule;
        if (body.Recurrence is { } rule)
        {
            if (body.Start is not null || body.End is not null)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "Give either start and end (one window) or recurrence (a weekly rule), not both.", "recurrence"));
            }

            schedule = new NewSchedule(null, null, ReadRule(rule, errors), services);
        }
        else
        {
            var start = Http.Instant(body.Start, "start", errors, required: true);
            var end = Http.Instant(body.End, "end", errors, required: true);
            if (start is { } s && end is { } e && (e <= s || e - s > TimeSpan.FromHours(24)))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "end must be after start, and a window at most 24 hours long.", "end"));
            }

            schedule = new NewSchedule(start, end, null, services);
        }

        Http.ThrowIfAny(errors);
        var created = await scope.Require<IScheduling>().CreateScheduleAsync(unit.Id, resource.Id, schedule, scope.CancellationToken);
        return TypedResults.Created($"/api/emrs/{scope.Emr}/care-units/{unit.Id}/resources/{resource.Id}/schedules", ScheduleResponse.From(created, unit.TimeZone));
    }

    private static WeeklyRecurrence? ReadRule(RecurrenceBody rule, List<ApiError> errors)
    {
        var days = new List<DayOfWeek>();
        if (rule.Weekdays is not { Count: > 0 })
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "recurrence.weekdays is required: e.g. [\"mon\", \"tue\"].", "recurrence.weekdays"));
        }
        else
        {
            for (var i = 0; i < rule.Weekdays.Count; i++)
            {
                var index = Array.IndexOf(Days, rule.Weekdays[i]?.Trim().ToLowerInvariant());
                if (index < 0)
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidField, "A weekday is one of mon, tue, wed, thu, fri, sat, sun.", $"recurrence.weekdays[{i}]"));
                }
                else if (!days.Contains((DayOfWeek)index))
                {
                    days.Add((DayOfWeek)index);
                }
            }
        }

        var startTime = Time(rule.StartTime, "recurrence.start_time", errors);
        var endTime = Time(rule.EndTime, "recurrence.end_time", errors);
        if (startTime is { } s && endTime is { } e && e <= s)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "recurrence.end_time must be after start_time.", "recurrence.end_time"));
        }

        var from = Http.Date(rule.From, "recurrence.from", errors);
        if (from is null && rule.From is null)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "recurrence.from is required (YYYY-MM-DD).", "recurrence.from"));
        }

        var until = Http.Date(rule.Until, "recurrence.until", errors);
        if (from is { } f && until is { } u && u < f)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "recurrence.until must not be before from.", "recurrence.until"));
        }

        return startTime is null || endTime is null || from is null ? null : new WeeklyRecurrence(days, startTime.Value, endTime.Value, from.Value, until);
    }

    private static TimeOnly? Time(string? value, string path, List<ApiError> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, $"{path} is required (HH:mm).", path));
            return null;
        }

        if (TimeOnly.TryParseExact(value, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
        {
            return t;
        }

        errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must be a local time as HH:mm.", path));
        return null;
    }
}

/// <summary>A <c>start</c>/<c>end</c> query range: default now to now + 14 days, at most <c>maxDays</c> long.</summary>
public static class QueryRange
{
    public static (DateTimeOffset From, DateTimeOffset To) Read(string? start, string? end, TimeProvider time, int maxDays)
    {
        ArgumentNullException.ThrowIfNull(time);
        var errors = new List<ApiError>();
        var from = Http.Instant(start, "start", errors) ?? time.GetUtcNow();
        var to = Http.Instant(end, "end", errors) ?? from.AddDays(14);
        Http.ThrowIfAny(errors);
        if (to <= from)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "end must be after start.", "end");
        }

        if (to - from > TimeSpan.FromDays(maxDays))
        {
            throw new VardbroException(ErrorCodes.InvalidField, $"The range from start to end is at most {maxDays} days.", "end");
        }

        return (from, to);
    }
}
