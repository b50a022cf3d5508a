using System.Data;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Storage;

/// <summary>The two stores Vardbro runs on.</summary>
public enum StorageProvider
{
    /// <summary>The embedded default: one file, one writer at a time.</summary>
    Sqlite,

    /// <summary>The production and scale-out store.</summary>
    Postgres,
}

/// <summary>
/// A database context that knows its provider from the moment it is made: each provider has its own
/// subclass (and migration set), so nothing asks EF Core, or a connection string, which one it is.
/// </summary>
public abstract class StoreDb(DbContextOptions options) : DbContext(options)
{
    public abstract StorageProvider Provider { get; }

    public bool IsPostgres => Provider == StorageProvider.Postgres;

    /// <summary>
    /// Whether <see cref="PreparedStatements"/> serves this context: PostgreSQL (each read opens the
    /// pooled connection with <see cref="PreparedStatements.OpenAsync"/>), or SQLite on a connection
    /// that stays open (the server keeps its SQLite connections open; see <see cref="SqliteConnectionSetup"/>).
    /// </summary>
    public bool CanPrepare => Provider == StorageProvider.Postgres || Database.GetDbConnection().State == ConnectionState.Open;
}

/// <summary>
/// The request scope's database context, for code outside the server that must share it (the
/// built-in EHR's connector). A wrapper rather than a second registration of the context itself, so
/// the scope disposes the context once (a context disposed twice can go back to the pool while
/// another scope already rented it).
/// </summary>
public interface IScopedStore
{
    StoreDb Db { get; }
}
