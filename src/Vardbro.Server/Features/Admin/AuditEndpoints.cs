using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Admin;

public sealed record AuditEventResponse(
    long Id,
    long? Seq,
    DateTimeOffset At,
    string ClientId,
    string? ActorId,
    string Action,
    string? Emr,
    string? CareUnitId,
    string? ResourceType,
    string? ResourceId,
    IReadOnlyList<string> PatientIds,
    int OutcomeStatus,
    string RequestId)
{
    public static AuditEventResponse From(AuditEventRow x) => new(
        x.Id, x.Seq, x.At, x.ClientId, x.ActorId, x.Action, x.Emr, x.CareUnitId, x.ResourceType, x.ResourceId,
        x.PatientIds.Length == 0 ? [] : x.PatientIds.Split(' '), x.OutcomeStatus, x.RequestId);
}

public static class AuditEndpoints
{
    public static void MapAuditAdmin(this IEndpointRouteBuilder admin)
    {
        var group = admin.MapGroup("/audit").WithTags("Administration");
        group.MapGet("/", ListAuditEvents).WithName("ListAuditEvents").WithSummary("The audit trail, oldest first, filtered by patient (Vardbro id), client and time; paged.");
        group.MapGet("/verify", VerifyAuditChain).WithName("VerifyAuditChain").WithSummary("Seal pending events and check the whole hash chain.");
    }

    public static async Task<Ok<AuditEventResponse[]>> ListAuditEvents(
        string? patient_id, string? client_id, string? from, string? to, string? limit, string? cursor, HttpContext http, AuditStore store, CancellationToken cancellationToken)
    {
        var errors = new List<ApiError>();
        var pageSize = Http.Limit(limit);
        patient_id = Http.Text(patient_id, "patient_id", 64, errors);
        client_id = Http.Text(client_id, "client_id", 64, errors);
        var fromAt = Http.Instant(from, "from", errors);
        var toAt = Http.Instant(to, "to", errors);
        Http.CheckOrder(fromAt, toAt, "to", errors);
        long after = 0;
        if (cursor is not null && !long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "The cursor is not one this server issued.", "cursor"));
        }

        Http.ThrowIfAny(errors);
        await using var audit = store.Open(http.RequestServices);
        var query = audit.Db.AuditEvents.AsNoTracking().Where(e => e.Id > after);
        if (!string.IsNullOrEmpty(patient_id))
        {
            query = query.Where(e => e.PatientIds.Contains(patient_id));
        }

        if (!string.IsNullOrEmpty(client_id))
        {
            query = query.Where(e => e.ClientId == client_id);
        }

        if (fromAt is { } f)
        {
            query = query.Where(e => e.At >= f);
        }

        if (toAt is { } t)
        {
            query = query.Where(e => e.At < t);
        }

        var rows = await query.OrderBy(e => e.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        if (rows.Count > pageSize)
        {
            rows.RemoveAt(rows.Count - 1);
            Http.LinkNext(http, rows[^1].Id.ToString(CultureInfo.InvariantCulture));
        }

        return TypedResults.Ok(rows.Select(AuditEventResponse.From).ToArray());
    }

    public static async Task<Ok<AuditSealer.VerifyResult>> VerifyAuditChain(AuditSealer sealer, CancellationToken cancellationToken) =>
        TypedResults.Ok(await sealer.VerifyAsync(cancellationToken));
}
