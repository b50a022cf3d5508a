using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Admin;

public sealed record OutboxMessageResponse(
    long Id,
    string Channel,
    string To,
    string Body,
    string Status,
    int Attempts,
    string? Emr,
    string? AppointmentId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SentAt)
{
    public static OutboxMessageResponse From(NotificationRow x) => new(
        x.Id, x.Channel, x.Recipient, x.Body, x.Status, x.Attempts, x.Emr, x.AppointmentId, x.CreatedAt, x.SentAt);
}

public static class OutboxEndpoints
{
    public static void MapOutboxAdmin(this IEndpointRouteBuilder admin)
    {
        admin.MapGet("/outbox", ListOutbox)
            .WithName("ListOutbox")
            .WithSummary("Notifications to patients (confirmation codes), newest first, optionally for one recipient; paged.")
            .WithTags("Administration");
    }

    public static async Task<Ok<OutboxMessageResponse[]>> ListOutbox(
        string? recipient, string? limit, string? cursor, HttpContext http, VardbroDb db, CancellationToken cancellationToken)
    {
        var errors = new List<ApiError>();
        var pageSize = Http.Limit(limit);
        long before = long.MaxValue;
        if (cursor is not null && (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out before) || before < 1))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "The cursor is not one this server issued.", "cursor"));
        }

        var to = Http.Text(recipient, "recipient", NotificationOutbox.MaxRecipientLength, errors);
        Http.ThrowIfAny(errors);
        var query = db.Notifications.AsNoTracking().Where(n => n.Id < before);
        if (to is not null)
        {
            var candidates = NotificationOutbox.RecipientCandidates(to);
            query = query.Where(n => candidates.Contains(n.Recipient));
        }

        var rows = await query.OrderByDescending(n => n.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        if (rows.Count > pageSize)
        {
            rows.RemoveAt(rows.Count - 1);
            Http.LinkNext(http, rows[^1].Id.ToString(CultureInfo.InvariantCulture));
        }

        return TypedResults.Ok(rows.Select(OutboxMessageResponse.From).ToArray());
    }
}
