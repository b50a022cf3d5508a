using System.Data;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Storage;

/// <summary>
/// Gives each pooled SQLite context a connection of its own that stays open while the context lives
/// in EF Core's context pool. Left to EF Core, every query opened and closed the connection, and its
/// open and close cost several times the query itself (measured: ~190 µs against ~35 µs).
/// <para>
/// Every such connection has a busy timeout: without one SQLite answers SQLITE_BUSY at once and
/// Microsoft.Data.Sqlite retries after sleeping 150 ms, while SQLite's own handler retries after
/// 1, 2, 5, 10… ms. (Writers of this process queue in <see cref="SqliteWriteGate"/>
/// and rarely get there; writers of another process on the same file do.)
/// </para>
/// <para>
/// <c>synchronous</c> stays at SQLite's FULL: in WAL mode NORMAL keeps commits across a killed
/// process but may lose the last ones to a power cut or an OS crash, and an acknowledged booking or
/// audit event must survive both.
/// </para>
/// </summary>
public static class SqliteConnectionSetup
{
    // The connections handed out here; a context holding another one (EF Core's own) gets one.
    private static readonly ConditionalWeakTable<SqliteConnection, object> Ours = [];

    public static void KeepOpen(DbContext db, string connectionString, int busyTimeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(db);
        var current = db.Database.GetDbConnection() as SqliteConnection;
        if (current is { State: ConnectionState.Open } && Ours.TryGetValue(current, out _))
        {
            // A context goes back to the pool with its transaction disposed; should one be left
            // open all the same, the connection is replaced (disposing it rolls the transaction back).
            if (SQLitePCL.raw.sqlite3_get_autocommit(current.Handle) != 0)
            {
                return;
            }

            current.Dispose();
        }

        var connection = new SqliteConnection(connectionString);
        connection.Open();
        SQLitePCL.raw.sqlite3_busy_timeout(connection.Handle, busyTimeoutMilliseconds);
        db.Database.SetDbConnection(connection, contextOwnsConnection: false);
        Ours.AddOrUpdate(connection, connection);
    }
}
