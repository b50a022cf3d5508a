using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Storage;

/// <summary>
/// One writer at a time per SQLite database file within this process, queued without blocking a
/// thread. SQLite lets one connection write at a time anyway; a writer that finds the lock taken gets
/// SQLITE_BUSY and then sleeps (Microsoft.Data.Sqlite's retry loop: 150 ms a try; SQLite's busy
/// handler: growing steps of up to 100 ms), which made every collision of the audit writer, bookings
/// and patient creation cost far more than the write itself. Writers of other processes on the same
/// file still meet only SQLite's own lock and busy handler. On PostgreSQL this is a no-op.
/// </summary>
public static class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>Waits for this process's turn to write to <paramref name="db"/>'s database; dispose to give it up.</summary>
    public static async ValueTask<Turn> EnterAsync(StoreDb db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (db.IsPostgres)
        {
            return default;
        }

        var gate = Gates.GetOrAdd(db.Database.GetConnectionString() ?? "", static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Turn(gate);
    }

    public readonly struct Turn(SemaphoreSlim? gate) : IDisposable
    {
        public void Dispose() => gate?.Release();
    }
}
