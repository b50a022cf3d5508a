using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Vardbro.Storage;

namespace Vardbro.Server.Storage;

/// <summary>
/// Where the audit trail is read and written: on PostgreSQL the request's own database context; on
/// SQLite a context on the trail's own file (<see cref="SqliteAuditFile"/>), whose connections and
/// write lock are apart from the main file's. Only the audit writer, the sealer and the audit admin
/// routes use it; nothing else touches the audit tables.
/// </summary>
public sealed class AuditStore(StorageSettings settings)
{
    // Pooled: a new context of its own per audit batch cost the writer as much CPU as the batch's inserts.
    private readonly Lazy<PooledDbContextFactory<SqliteVardbroDb>> sqliteContexts = new(() => new(
        new DbContextOptionsBuilder<SqliteVardbroDb>()
            .UseSqlite(settings.SqliteAuditConnectionString)
            .AddInterceptors(new SqliteStatementCache())
            .Options));

    /// <summary>
    /// An open connection to the audit file for a long-lived user (the audit writer keeps one, so
    /// that its prepared statements stay prepared); null on PostgreSQL.
    /// </summary>
    public SqliteConnection? OpenConnection()
    {
        if (settings.IsPostgres)
        {
            return null;
        }

        var connection = new SqliteConnection(settings.SqliteAuditConnectionString);
        connection.Open();
        SQLitePCL.raw.sqlite3_busy_timeout(connection.Handle, StorageSetup.SqliteTimeoutSeconds * 1000);
        return connection;
    }

    /// <summary>
    /// A context on the audit tables for one unit of work, on <paramref name="connection"/> when given
    /// (it stays open), else on a connection of its own. Dispose it; on PostgreSQL it is the scope's
    /// context, which the scope disposes.
    /// </summary>
    public AuditContext Open(IServiceProvider scopedServices, SqliteConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(scopedServices);
        if (settings.IsPostgres)
        {
            return new AuditContext(scopedServices.GetRequiredService<VardbroDb>(), owned: false, ownConnection: null);
        }

        var own = connection is null ? OpenConnection() : null;
        var db = sqliteContexts.Value.CreateDbContext();
        db.Database.SetDbConnection(connection ?? own, contextOwnsConnection: false);
        return new AuditContext(db, owned: true, own);
    }
}

/// <summary>The audit trail's context for one unit of work (<see cref="AuditStore.Open"/>).</summary>
public sealed class AuditContext(VardbroDb db, bool owned, SqliteConnection? ownConnection) : IAsyncDisposable
{
    public VardbroDb Db { get; } = db;

    public async ValueTask DisposeAsync()
    {
        if (owned)
        {
            await Db.DisposeAsync();
        }

        if (ownConnection is not null)
        {
            await ownConnection.DisposeAsync();
        }
    }
}
