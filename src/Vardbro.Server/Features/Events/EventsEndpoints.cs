using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Connectors.Local;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Events;

/// <summary><c>Events:*</c>.</summary>
public sealed class EventsOptions
{
    public const string Section = "Events";

    /// <summary>How long an event is kept in the feed (30 days by default).</summary>
    [Range(1, 3650, ErrorMessage = "must be a whole number of days from 1 to 3650.")]
    public int RetentionDays { get; set; } = 30;
}

/// <summary>What an event is about: the record's kind and id; a note's or document's patient too, as their paths need it.</summary>
public sealed record EventSubject(
    [property: AllowedValues(ChangeSubjects.Appointment, ChangeSubjects.Patient, ChangeSubjects.MedicalNote, ChangeSubjects.Document)] string Type,
    string Id,
    string? PatientId);

/// <summary>One change of the feed; ids only, never personal data.</summary>
public sealed record EventResponse(
    string Id,
    [property: AllowedValues(
        ChangeEventTypes.AppointmentCreated, ChangeEventTypes.AppointmentUpdated, ChangeEventTypes.AppointmentCancelled, ChangeEventTypes.AppointmentConfirmed,
        ChangeEventTypes.PatientCreated, ChangeEventTypes.PatientUpdated, ChangeEventTypes.MedicalNoteCreated, ChangeEventTypes.DocumentCreated)] string Type,
    DateTimeOffset OccurredAt,
    string Emr,
    string CareUnitId,
    EventSubject Subject)
{
    public static EventResponse From(ChangeEvent x, string emr, string timeZone)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(x.Id, x.Type, Http.Local(x.OccurredAt, timeZone), emr, x.CareUnitId, new EventSubject(x.SubjectType, x.SubjectId, x.SubjectPatientId));
    }
}

public static class EventsEndpoints
{
    public static void MapEvents(this IEndpointRouteBuilder careUnit)
    {
        careUnit.MapGet("/events", ListEvents)
            .WithTags("Events")
            .WithName("ListEvents")
            .WithSummary("The care unit's change feed, oldest first: what was created, changed, cancelled or confirmed, by id; after an event id, of some types; paged.");
    }

    /// <summary>
    /// The feed. Not audited: an event names records by id and carries none of their content; reading a
    /// record it names is audited as any read.
    /// </summary>
    public static async Task<Ok<EventResponse[]>> ListEvents([AsParameters] CareUnitScope scope, string? after, string? types, string? limit, string? cursor)
    {
        var unit = scope.Unit;
        var errors = new List<ApiError>();
        List<string>? wanted = null;
        if (types is not null)
        {
            wanted = types.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
            var unknown = wanted.FirstOrDefault(t => !ChangeEventTypes.IsKnown(t));
            if (unknown is not null || wanted.Count == 0)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"types is a comma-separated list of: {string.Join(", ", ChangeEventTypes.All)}.", "types"));
            }
        }

        if (after is not null && (after.Length == 0 || after.Length > 64))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "after must be the id of an event of this feed (evt_…).", "after"));
        }

        var pageSize = Http.Limit(limit);
        if (cursor is not null && !Cursors.IsWellFormed(cursor))
        {
            errors.AddRange(Cursors.Invalid().Errors);
        }

        Http.ThrowIfAny(errors);
        var page = await scope.Connectors.ChangeFeed(scope.Emr).ListEventsAsync(unit.Id, new ChangeEventQuery(after, wanted), pageSize, cursor, scope.CancellationToken);
        Http.LinkNext(scope.HttpContext, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(e => EventResponse.From(e, scope.Emr, unit.TimeZone)).ToArray());
    }
}

/// <summary>
/// Deletes the events older than <see cref="EventsOptions.RetentionDays"/>, hourly, and what the
/// change poller remembers of records that have not changed for as long.
/// Several instances may purge at once: each delete is one statement and deleting twice is harmless.
/// </summary>
public sealed class EventPurger(IServiceScopeFactory scopes, IOptions<EventsOptions> options, TimeProvider time, ILogger<EventPurger> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>Deletes what is past retention now; the number deleted.</summary>
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow().ToUniversalTime().AddDays(-options.Value.RetentionDays);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        await db.ChangePollSeen.Where(s => s.UpdatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
        return await db.Set<ChangeEventRow>().Where(e => e.OccurredAt < cutoff).ExecuteDeleteAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.PurgeEveryAsync(Interval, time, PurgeAsync, logger, "events past retention", stoppingToken);
}
