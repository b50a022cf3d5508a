using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>
/// A store like the server's on SQLite, with no tables, in a temporary folder of its own: what a
/// connector serializes through it (bookings, patient creation) is serialized as in the server.
/// </summary>
public sealed class LockStoreFile
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "vardbro-locks-" + Guid.NewGuid().ToString("N"));

    public LockStoreFile() => Directory.CreateDirectory(directory);

    /// <summary>A context on the store, for one unit of work (the caller disposes it).</summary>
    public StoreDb NewStore() =>
        new LockStore(new DbContextOptionsBuilder<LockStore>().UseSqlite(new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "locks.db"), Pooling = false }.ToString()).Options);

    /// <summary>Removes the folder (the owning fixture's disposal).</summary>
    public void Delete()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class LockStore(DbContextOptions<LockStore> options) : StoreDb(options)
    {
        public override StorageProvider Provider => StorageProvider.Sqlite;
    }
}
