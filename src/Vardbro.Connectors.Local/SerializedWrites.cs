using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Connectors.Local;

/// <summary>
/// Runs a read-then-write as one transaction that no other writer with the same key interleaves
/// with, across threads, processes and server instances: on PostgreSQL a transaction-scoped
/// advisory lock, on SQLite the database's own write lock (its transactions begin IMMEDIATE).
/// </summary>
public static class SerializedWrites
{
    public static async Task<T> RunAsync<T>(DbContext db, string key, Func<Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(work);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (IsPostgres(db))
        {
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [LockKey(key)], cancellationToken);
        }

        var result = await work();
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    public static bool IsPostgres(DbContext db) =>
        db?.Database.ProviderName?.Contains("Npgsql", StringComparison.Ordinal) == true;

    private static long LockKey(string key) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0);
}
