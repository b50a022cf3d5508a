using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Storage;

/// <summary>
/// Runs a read-then-write as one transaction that no other writer with the same key interleaves
/// with, across threads, processes and server instances: on PostgreSQL a transaction-scoped
/// advisory lock, on SQLite the database's own write lock (its transactions begin IMMEDIATE), queued
/// for in this process by <see cref="SqliteWriteGate"/>.
/// </summary>
public static class SerializedWrites
{
    public static Task<T> RunAsync<T>(StoreDb db, string key, Func<Task<T>> work, CancellationToken cancellationToken) =>
        RunAsync(db, [key], work, cancellationToken);

    /// <summary>
    /// As <see cref="RunAsync{T}(StoreDb, string, Func{Task{T}}, CancellationToken)"/> holding several
    /// keys (taken in a fixed order, so two writers never wait for each other). Inside a transaction
    /// the caller already opened, the work joins it and the caller commits.
    /// </summary>
    public static async Task<T> RunAsync<T>(StoreDb db, IEnumerable<string> keys, Func<Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(work);
        var ambient = db.Database.CurrentTransaction is not null;

        // The gate is taken before BEGIN IMMEDIATE so that writers of this process queue instead of
        // meeting SQLITE_BUSY; a caller's own transaction already holds SQLite's write lock.
        using var turn = ambient ? default : await SqliteWriteGate.EnterAsync(db, cancellationToken);
        var transaction = ambient ? null : await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            if (db.IsPostgres)
            {
                foreach (var lockKey in keys.Select(LockKey).Distinct().Order())
                {
                    await PreparedStatements.For(db, "SELECT pg_advisory_xact_lock(@p0)", lockKey).ExecuteNonQueryAsync(cancellationToken);
                }
            }

            var result = await work();
            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken);
            }

            return result;
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }
        }
    }

    private static long LockKey(string key) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0);
}
