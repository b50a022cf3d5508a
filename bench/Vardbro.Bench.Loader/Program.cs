using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Vardbro.Bench.Loader;
using Vardbro.Server.Storage;

// The benchmark's fixture loader (bench/run.sh). Not a product path: it writes straight into the
// store the server uses, with the server's own EF model and migrations.
//
//   load  --provider sqlite --data-dir DIR | --provider postgres --connection CS
//         --patients N --out DIR [--seed 42] [--appointments 3000] [--method ef|raw|copy]
//   count --provider … [--table audit_events]      prints the row count of a table
var command = args.Length > 0 ? args[0] : "help";
var options = Options.Parse(args.Skip(1).ToArray());
try
{
    switch (command)
    {
        case "load":
            await Loader.RunAsync(options);
            return 0;
        case "count":
            await using (var db = Database.Open(options))
            {
                var table = options.Get("table", "audit_events");
                if (!table.All(c => char.IsAsciiLetterLower(c) || c == '_'))
                {
                    throw new ArgumentException("--table takes a plain table name.");
                }

                // On SQLite the audit trail has a file of its own beside vardbro.db.
                var connection = !db.IsPostgres && table.StartsWith("audit_", StringComparison.Ordinal)
                    ? new SqliteConnection(StorageSetup.SqliteConnectionString(SqliteAuditFile.PathFor(db.Database.GetConnectionString()!)))
                    : db.Database.GetDbConnection();
                await connection.OpenAsync();
                await using var cmd = connection.CreateCommand();
                cmd.CommandText = $"SELECT COUNT(*) FROM {table}";
                Console.WriteLine(Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
            }

            return 0;
        default:
            Console.Error.WriteLine("usage: Vardbro.Bench.Loader load|count [options]; see bench/run.sh");
            return 2;
    }
}
catch (Exception ex)
{
    Console.Error.WriteLine($"loader: {ex}");
    return 1;
}

internal sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            values[args[i][2..]] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }

        return new Options(values);
    }

    public string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);

    public string Require(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required.");

    public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public bool IsPostgres => Get("provider", "sqlite") is "postgres" or "postgresql";
}

internal static class Database
{
    public static VardbroDb Open(Options options)
    {
        if (options.IsPostgres)
        {
            var o = new DbContextOptionsBuilder<PostgresVardbroDb>().UseNpgsql(options.Require("connection")).Options;
            return new PostgresVardbroDb(o);
        }

        var dir = Path.GetFullPath(options.Require("data-dir"));
        Directory.CreateDirectory(dir);
        var s = new DbContextOptionsBuilder<SqliteVardbroDb>().UseSqlite(StorageSetup.SqliteConnectionString(Path.Combine(dir, "vardbro.db"))).Options;
        return new SqliteVardbroDb(s);
    }

    public static string SqliteFile(Options options) => Path.Combine(Path.GetFullPath(options.Require("data-dir")), "vardbro.db");
}
