using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// The <c>idempotency_records</c> table. Every call uses its own short-lived context, so the rows
/// never mix with what the request's handler tracks and saves. A row's <see cref="IdempotencyRow.CreatedAt"/>
/// identifies one attempt: updates and deletes name it, so an attempt that was taken over (or purged)
/// never touches its successor's row.
/// </summary>
public sealed partial class IdempotencyStore(IServiceScopeFactory scopes, ILogger<IdempotencyStore> logger)
{
    /// <summary>Inserts an in-progress row. False when a row with that key exists (on either provider).</summary>
    public async Task<bool> TryInsertAsync(string scope, string key, string requestHash, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        db.IdempotencyRecords.Add(new IdempotencyRow { ClientId = scope, Key = key, RequestHash = requestHash, CreatedAt = createdAt });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException ex)
        {
            // A unique violation reads differently on SQLite and PostgreSQL; the caller re-reads the row,
            // which tells a lost race from a real failure.
            LogInsertLost(logger, ex);
            return false;
        }
    }

    public async Task<IdempotencyRow?> FindAsync(string scope, string key, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        return await db.IdempotencyRecords.AsNoTracking().FirstOrDefaultAsync(r => r.ClientId == scope && r.Key == key, cancellationToken);
    }

    /// <summary>Stores the response of the attempt that began at <paramref name="createdAt"/>; false if that row is gone.</summary>
    public async Task<bool> CompleteAsync(
        string scope, string key, DateTimeOffset createdAt, int status, string? contentType, string? location, byte[]? body, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        var changed = await db.IdempotencyRecords
            .Where(r => r.ClientId == scope && r.Key == key && r.CreatedAt == createdAt && r.StatusCode == null)
            .ExecuteUpdateAsync(
                s => s.SetProperty(r => r.StatusCode, status)
                    .SetProperty(r => r.ContentType, contentType)
                    .SetProperty(r => r.Location, location)
                    .SetProperty(r => r.Body, body),
                cancellationToken);
        return changed == 1;
    }

    /// <summary>Deletes the row of the attempt that began at <paramref name="createdAt"/> (only while in progress, if asked).</summary>
    public async Task<bool> DeleteAsync(string scope, string key, DateTimeOffset createdAt, bool onlyInProgress, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        var query = db.IdempotencyRecords.Where(r => r.ClientId == scope && r.Key == key && r.CreatedAt == createdAt);
        if (onlyInProgress)
        {
            query = query.Where(r => r.StatusCode == null);
        }

        return await query.ExecuteDeleteAsync(cancellationToken) > 0;
    }

    /// <summary>Deletes every record created before <paramref name="olderThan"/>.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        var cutoff = olderThan.ToUniversalTime();
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        return await db.IdempotencyRecords.Where(r => r.CreatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Inserting an idempotency record failed (usually: another request holds the key); re-reading")]
    private static partial void LogInsertLost(ILogger logger, Exception exception);
}
