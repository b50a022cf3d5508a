using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Vardbro.Server.Storage;

/// <summary>
/// On SQLite the audit trail lives in a file of its own, <c>audit.db</c> beside <c>vardbro.db</c>, read
/// and written through <see cref="AuditStore"/> on connections of its own.
/// <para>
/// Why: SQLite empties a connection's page cache whenever another connection has committed to the
/// same file since its last read, and under load the audit writer commits every millisecond or so.
/// With the trail in the main file nearly every page of every read came from the OS again (strace:
/// ~18 <c>pread</c> calls per GET patient). And with one file there is one write lock: every audit
/// commit (and its fsync) waited for bookings and patient writes, and they for it.
/// </para>
/// <para>
/// The migrations still create the audit tables in the main file; <see cref="MoveAsync"/> moves them
/// into the audit file after every migration run (an existing trail moves with its rows). A later
/// migration that changes an audit table must be applied to the audit file by hand on SQLite.
/// </para>
/// </summary>
public static partial class SqliteAuditFile
{
    private const string Schema = "audit";

    public const string FileName = "audit.db";

    private static readonly string[] Tables = ["audit_events", "audit_seal"];

    /// <summary>The audit file that goes with the main database of <paramref name="connectionString"/>.</summary>
    public static string PathFor(string connectionString)
    {
        var main = Path.GetFullPath(new SqliteConnectionStringBuilder(connectionString).DataSource);
        return Path.Combine(Path.GetDirectoryName(main) ?? "", FileName);
    }

    /// <summary>
    /// Moves the audit tables the migrations created (or an earlier version kept) in the main file into
    /// the audit file, rows included; then checks that the audit file has them. Safe to stop at any
    /// point: the rows are copied and committed first (a repeated copy skips what is there) and only
    /// then dropped from the main file. A trail whose file has gone missing stops the start-up rather
    /// than starting a new chain unnoticed.
    /// </summary>
    public static async Task MoveAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using (var attach = connection.CreateCommand())
        {
            attach.CommandText = $"ATTACH DATABASE $file AS {Schema}";
            attach.Parameters.AddWithValue("$file", PathFor(connection.ConnectionString));
            await attach.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await ExecuteAsync(connection, $"PRAGMA {Schema}.journal_mode=WAL", cancellationToken);
            await MoveTablesAsync(connection, cancellationToken);
        }
        finally
        {
            await ExecuteAsync(connection, $"DETACH DATABASE {Schema}", CancellationToken.None);
        }
    }

    private static async Task MoveTablesAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        foreach (var table in Tables)
        {
            var definition = await DefinitionAsync(connection, "main", "table", table, cancellationToken);
            if (definition is not null)
            {
                await using (var copy = await connection.BeginTransactionAsync(cancellationToken))
                {
                    if (await DefinitionAsync(connection, Schema, "table", table, cancellationToken) is null)
                    {
                        await ExecuteAsync(connection, InSchema(definition), cancellationToken);
                        foreach (var index in await IndexesAsync(connection, table, cancellationToken))
                        {
                            await ExecuteAsync(connection, InSchema(index), cancellationToken);
                        }
                    }

                    await ExecuteAsync(connection, $"""INSERT OR IGNORE INTO {Schema}."{table}" SELECT * FROM main."{table}" """, cancellationToken);
                    await copy.CommitAsync(cancellationToken);
                }

                await ExecuteAsync(connection, $"""DROP TABLE main."{table}" """, cancellationToken);
            }

            if (await DefinitionAsync(connection, Schema, "table", table, cancellationToken) is null)
            {
                throw new InvalidOperationException(
                    $"The audit trail file {PathFor(connection.ConnectionString)} has no table {table}: it was removed or replaced after the database was created. " +
                    "Restore it from the backup taken with vardbro.db; the server does not start a new trail over an existing database.");
            }
        }
    }

    private static async Task<string?> DefinitionAsync(SqliteConnection connection, string schema, string type, string name, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT sql FROM {schema}.sqlite_master WHERE type = $type AND name = $name";
        command.Parameters.AddWithValue("$type", type);
        command.Parameters.AddWithValue("$name", name);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<List<string>> IndexesAsync(SqliteConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = $table AND sql IS NOT NULL";
        command.Parameters.AddWithValue("$table", table);
        var indexes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            indexes.Add(reader.GetString(0));
        }

        return indexes;
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary><c>CREATE [UNIQUE] TABLE|INDEX "x" …</c> as <c>… audit."x" …</c> (an index goes where its table is).</summary>
    private static string InSchema(string createStatement) =>
        CreatePrefix().Replace(createStatement, $"$0{Schema}.", 1);

    [GeneratedRegex(@"^\s*CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+", RegexOptions.IgnoreCase)]
    private static partial Regex CreatePrefix();
}
