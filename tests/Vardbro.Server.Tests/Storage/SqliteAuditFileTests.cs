using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Audit;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Server.Tests.Processes;

namespace Vardbro.Server.Tests.Storage;

/// <summary>
/// On SQLite the audit trail has a file of its own (audit.db beside vardbro.db). A database of the
/// earlier layout, with the trail inside vardbro.db, is moved over on start with its rows and its
/// chain intact; an interrupted move is finished without doubling rows; a trail file that went
/// missing stops the start instead of a new chain beginning unnoticed. (These run on SQLite whatever
/// VARDBRO_TEST_PROVIDER says: the layout is SQLite's alone.)
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class SqliteAuditFileTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "vardbro-tests", Guid.NewGuid().ToString("N"));

    public SqliteAuditFileTests() => Directory.CreateDirectory(directory);

    private string MainFile => Path.Combine(directory, "vardbro.db");

    private string AuditFile => Path.Combine(directory, SqliteAuditFile.FileName);

    [Fact]
    public async Task A_trail_of_the_earlier_layout_moves_to_its_own_file_and_the_chain_goes_on()
    {
        await CreateEarlierLayoutAsync(events: 3);

        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "sqlite",
            ["Storage:DataDirectory"] = directory,
            ["Sandbox:Enabled"] = "true",
            ["Admin:Key"] = ServerProcess.AdminKey,
            ["Audit:MaxWaitSeconds"] = "1",
        };
        await using (var server = await ServerProcess.StartAsync(settings))
        {
            // The trail's writes do not wait for the main file's write lock: a read is audited (not
            // answered 503 after a second) while another process holds that lock.
            using var client = server.Sandbox();
            await using (var writer = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = MainFile, Pooling = false }.ToString()))
            {
                await writer.OpenAsync();
                await using var begin = writer.CreateCommand();
                begin.CommandText = "BEGIN IMMEDIATE";
                await begin.ExecuteNonQueryAsync();
                await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212");
            }

            using var admin = server.Admin();
            var verified = await admin.GetJsonAsync("/api/admin/audit/verify");
            Assert.True((bool)verified["valid"]!, verified.ToJsonString());
            Assert.Equal(4, (long)verified["events_checked"]!);
            await server.StopAsync();
        }

        Assert.Null(await ScalarAsync(MainFile, "SELECT name FROM sqlite_master WHERE name IN ('audit_events', 'audit_seal')"));
        Assert.Equal(4L, await ScalarAsync(AuditFile, "SELECT COUNT(*) FROM audit_events"));
        Assert.Equal(4L, await ScalarAsync(AuditFile, "SELECT \"LastSeq\" FROM audit_seal WHERE \"Id\" = 1"));

        // The chain is keyed from the first event this version stored; the three before it keep their plain hashes.
        Assert.Equal(4L, await ScalarAsync(AuditFile, "SELECT \"LastSeq\" FROM audit_seal WHERE \"Id\" = 2"));
        Assert.Equal(1L, await ScalarAsync(AuditFile, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'IX_audit_events_Seq' AND sql LIKE 'CREATE UNIQUE%'"));
    }

    [Fact]
    public async Task A_move_cut_off_after_the_copy_is_finished_without_doubling_rows()
    {
        await CreateEarlierLayoutAsync(events: 5);
        var before = Path.Combine(directory, "before-move");
        Directory.CreateDirectory(before);
        File.Copy(MainFile, Path.Combine(before, "vardbro.db"));
        await using (var connection = await OpenMainAsync())
        {
            await SqliteAuditFile.MoveAsync(connection, CancellationToken.None);
        }

        // As if the process had died between committing the copy and dropping the old tables:
        // audit.db holds the rows, and vardbro.db still has them too.
        SqliteConnection.ClearAllPools();
        File.Copy(Path.Combine(before, "vardbro.db"), MainFile, overwrite: true);
        Assert.Equal(5L, await ScalarAsync(MainFile, "SELECT COUNT(*) FROM audit_events"));

        await using (var connection = await OpenMainAsync())
        {
            await SqliteAuditFile.MoveAsync(connection, CancellationToken.None);
        }

        Assert.Null(await ScalarAsync(MainFile, "SELECT name FROM sqlite_master WHERE name = 'audit_events'"));
        Assert.Equal(5L, await ScalarAsync(AuditFile, "SELECT COUNT(*) FROM audit_events"));
        Assert.Equal(5L, await ScalarAsync(AuditFile, "SELECT COUNT(DISTINCT \"Seq\") FROM audit_events"));
    }

    [Fact]
    public async Task A_missing_trail_file_stops_the_start_with_a_message_that_names_it()
    {
        await CreateEarlierLayoutAsync(events: 2);
        await using (var connection = await OpenMainAsync())
        {
            await SqliteAuditFile.MoveAsync(connection, CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(directory, SqliteAuditFile.FileName + "*"))
        {
            File.Delete(file);
        }

        await using var reopened = await OpenMainAsync();
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SqliteAuditFile.MoveAsync(reopened, CancellationToken.None));
        Assert.Contains(AuditFile, refused.Message, StringComparison.Ordinal);
        Assert.Contains("Restore it", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>The server's migrations with no audit file attached: the trail lands in vardbro.db, sealed.</summary>
    private async Task CreateEarlierLayoutAsync(int events)
    {
        var options = new DbContextOptionsBuilder<SqliteVardbroDb>().UseSqlite(new SqliteConnectionStringBuilder { DataSource = MainFile, Pooling = false }.ToString()).Options;
        await using var db = new SqliteVardbroDb(options);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        await db.Database.MigrateAsync();
        var rows = Enumerable.Range(1, events).Select(i => new AuditEventRow
        {
            At = new DateTimeOffset(2026, 3, 2, 9, 0, i, TimeSpan.Zero),
            ClientId = "earlier-client",
            Action = "read",
            ResourceType = "patient",
            OutcomeStatus = 200,
            RequestId = Guid.NewGuid().ToString(),
        }).ToList();
        // Sealed as versions before the audit key did: plain SHA-256.
        await AuditSealer.InsertSealedAsync(db, rows, key: null, CancellationToken.None);
    }

    private async Task<SqliteConnection> OpenMainAsync()
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = MainFile, Pooling = false }.ToString();
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<object?> ScalarAsync(string file, string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public void Dispose()
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
}
