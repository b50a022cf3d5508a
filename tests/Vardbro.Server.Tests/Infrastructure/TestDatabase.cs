using Npgsql;

namespace Vardbro.Server.Tests.Infrastructure;

/// <summary>
/// A fresh, empty database for one test class, on the provider that VARDBRO_TEST_PROVIDER names
/// (sqlite, the default, or postgres with VARDBRO_TEST_POSTGRES as the server's connection string).
/// </summary>
public sealed class TestDatabase : IDisposable
{
    private TestDatabase(string provider, string dataDirectory, string? connectionString, string? databaseName, string? adminConnectionString)
    {
        Provider = provider;
        DataDirectory = dataDirectory;
        ConnectionString = connectionString;
        DatabaseName = databaseName;
        this.adminConnectionString = adminConnectionString;
    }

    private readonly string? adminConnectionString;

    public static string ProviderName => (Environment.GetEnvironmentVariable("VARDBRO_TEST_PROVIDER") ?? "sqlite").ToLowerInvariant();

    public static bool IsPostgres => ProviderName == "postgres";

    public string Provider { get; }

    public string DataDirectory { get; }

    public string? ConnectionString { get; }

    public string? DatabaseName { get; }

    public static TestDatabase Create() => Create(IsPostgres);

    /// <summary>A PostgreSQL database whatever the provider under test, for what only PostgreSQL shows; needs VARDBRO_TEST_POSTGRES.</summary>
    public static TestDatabase CreatePostgres() => Create(postgres: true);

    private static TestDatabase Create(bool postgres)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "vardbro-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        if (!postgres)
        {
            return new TestDatabase("sqlite", dataDirectory, null, null, null);
        }

        var admin = Environment.GetEnvironmentVariable("VARDBRO_TEST_POSTGRES")
            ?? throw new InvalidOperationException("This test needs PostgreSQL: set VARDBRO_TEST_POSTGRES (see .ci/postgres.sh).");
        var name = "vardbro_test_" + Guid.NewGuid().ToString("N")[..16];
        using (var connection = new NpgsqlConnection(admin))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            command.ExecuteNonQuery();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 60 };
        return new TestDatabase("postgres", dataDirectory, builder.ToString(), name, admin);
    }

    /// <summary>
    /// The server settings that point it at this database, with rate limits that no test reaches: the
    /// limiter runs on every request of every test, but only <c>RateLimits/</c> tests (which set their
    /// own) ever see a 429, however many requests a test sends from its one client and address.
    /// </summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["Storage:Provider"] = Provider,
        ["Storage:DataDirectory"] = DataDirectory,
        ["ConnectionStrings:Vardbro"] = ConnectionString,
        ["RateLimits:PerClient:RequestsPerMinute"] = "60000000",
        ["RateLimits:PerClient:Burst"] = "1000000",
        ["RateLimits:FailedAuth:PerAddressPerMinute"] = "60000000",
        ["RateLimits:FailedAuth:PerClientPerMinute"] = "60000000",
    };

    public void Dispose()
    {
        if (DatabaseName is not null && adminConnectionString is not null)
        {
            NpgsqlConnection.ClearAllPools();
            using var connection = new NpgsqlConnection(adminConnectionString);
            connection.Open();
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {DatabaseName} WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
