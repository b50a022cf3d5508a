using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// The <c>idempotency_records</c> table. Every call uses its own short-lived context, so the rows
/// never mix with what the request's handler tracks and saves. A row's <see cref="IdempotencyRow.CreatedAt"/>
/// identifies one attempt: updates and deletes name it, so an attempt that was taken over (or purged)
/// never touches its successor's row. Keys are stored as their SHA-256: a client's key may hold
/// anything, and the database (its logs among it) never sees it.
/// </summary>
public sealed class IdempotencyStore(IServiceScopeFactory scopes)
{
    /// <summary>
    /// Inserts an in-progress row; false when a row with that key exists. Insert-if-absent in one
    /// statement (<c>ON CONFLICT DO NOTHING</c>, on both providers): a key held by a concurrent request
    /// is an expected outcome, not a failed insert that EF Core would log as an error.
    /// </summary>
    public async Task<bool> TryInsertAsync(string scope, string key, string requestHash, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        var entity = db.Model.FindEntityType(typeof(IdempotencyRow))!;
        string Column(string property) => entity.FindProperty(property)!.GetColumnName();
        var created = entity.FindProperty(nameof(IdempotencyRow.CreatedAt))!;
        var sql = $$"""
            INSERT INTO "{{entity.GetTableName()}}" ("{{Column(nameof(IdempotencyRow.ClientId))}}", "{{Column(nameof(IdempotencyRow.Key))}}", "{{Column(nameof(IdempotencyRow.RequestHash))}}", "{{Column(nameof(IdempotencyRow.CreatedAt))}}")
            VALUES ({0}, {1}, {2}, {3}) ON CONFLICT DO NOTHING
            """;
        var createdValue = created.GetTypeMapping().Converter?.ConvertToProvider(createdAt) ?? createdAt;
        return await db.Database.ExecuteSqlRawAsync(sql, [scope, Stored(key), requestHash, createdValue], cancellationToken) == 1;
    }

    /// <summary>What the table holds for a client's key.</summary>
    public static string Stored(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public async Task<IdempotencyRow?> FindAsync(string scope, string key, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        var stored = Stored(key);
        return await db.IdempotencyRecords.AsNoTracking().FirstOrDefaultAsync(r => r.ClientId == scope && r.Key == stored, cancellationToken);
    }

    /// <summary>Stores the response of the attempt that began at <paramref name="createdAt"/>; false if that row is gone.</summary>
    public async Task<bool> CompleteAsync(
        string scope, string key, DateTimeOffset createdAt, int status, string? contentType, string? location, byte[]? body, CancellationToken cancellationToken)
    {
        await using var services = scopes.CreateAsyncScope();
        var db = services.ServiceProvider.GetRequiredService<VardbroDb>();
        var stored = Stored(key);
        var changed = await db.IdempotencyRecords
            .Where(r => r.ClientId == scope && r.Key == stored && r.CreatedAt == createdAt && r.StatusCode == null)
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
        var stored = Stored(key);
        var query = db.IdempotencyRecords.Where(r => r.ClientId == scope && r.Key == stored && r.CreatedAt == createdAt);
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
}
