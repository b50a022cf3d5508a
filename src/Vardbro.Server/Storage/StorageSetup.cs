using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Vardbro.Connectors.Local;
using Vardbro.Storage;

namespace Vardbro.Server.Storage;

public static class StorageSetup
{
    /// <summary>
    /// Registers <see cref="VardbroDb"/> for the configured provider (SQLite unless
    /// <c>Storage:Provider=postgres</c>). Configuration is read when the first context is made, so
    /// that settings added after registration (tests, environment overrides) count.
    /// </summary>
    public static IServiceCollection AddVardbroStorage(this IServiceCollection services)
    {
        services.AddSingleton<StorageSettings>();
        services.AddSingleton<AuditStore>();
        services.AddPooledDbContextFactory<SqliteVardbroDb>((sp, o) => o
            .UseSqlite(sp.GetRequiredService<StorageSettings>().SqliteConnectionString)
            .AddInterceptors(new SqliteStatementCache()));
        services.AddPooledDbContextFactory<PostgresVardbroDb>((sp, o) => o.UseNpgsql(sp.GetRequiredService<StorageSettings>().PostgresConnectionString));
        services.AddScoped<VardbroDb>(sp =>
        {
            if (sp.GetRequiredService<StorageSettings>().IsPostgres)
            {
                return sp.GetRequiredService<IDbContextFactory<PostgresVardbroDb>>().CreateDbContext();
            }

            var sqlite = sp.GetRequiredService<IDbContextFactory<SqliteVardbroDb>>().CreateDbContext();
            SqliteConnectionSetup.KeepOpen(sqlite, sp.GetRequiredService<StorageSettings>().SqliteConnectionString, SqliteTimeoutSeconds * 1000);
            return sqlite;
        });

        // No second registration (such as DbContext) may hand out this instance: the scope would
        // dispose it twice, and the second dispose can return it to the pool after another scope has
        // already rented it again, so two requests would share one connection. Others reach it
        // through IScopedStore, which is not disposable.
        services.AddScoped<IScopedStore, RequestStore>();
        // Document bytes: in PostgreSQL itself (several instances need nothing else), or as files beside the SQLite database.
        services.AddSingleton<IBlobStore>(sp => sp.GetRequiredService<StorageSettings>() is { IsPostgres: false, DataDirectory: { } dir }
            ? new FileBlobStore(Path.Combine(dir, "blobs"), sp.GetRequiredService<TimeProvider>())
            : new DatabaseBlobStore());
        return services;
    }

    public static string SqliteConnectionString(string file) => new SqliteConnectionStringBuilder
    {
        DataSource = file,
        Pooling = true,
        DefaultTimeout = SqliteTimeoutSeconds,
    }.ToString();

    /// <summary>How long a command waits for another writer's lock before failing.</summary>
    public const int SqliteTimeoutSeconds = 30;

    /// <summary>
    /// Applies the provider's migrations; on SQLite also turns on write-ahead logging and keeps the
    /// audit trail in its own file (<see cref="SqliteAuditFile"/>).
    /// </summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        if (!db.IsPostgres)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        await db.Database.MigrateAsync(cancellationToken);
        if (!db.IsPostgres)
        {
            await SqliteAuditFile.MoveAsync((SqliteConnection)db.Database.GetDbConnection(), cancellationToken);
        }
    }
}

/// <summary>Where the data lives, from <c>Storage:*</c> and <c>ConnectionStrings:Vardbro</c>.</summary>
public sealed class StorageSettings
{
    public StorageSettings(IConfiguration configuration, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(environment);
        var provider = configuration["Storage:Provider"] ?? "sqlite";
        if (provider.Equals("postgres", StringComparison.OrdinalIgnoreCase) || provider.Equals("postgresql", StringComparison.OrdinalIgnoreCase))
        {
            IsPostgres = true;
            PostgresConnectionString = configuration.GetConnectionString("Vardbro") is { Length: > 0 } cs
                ? cs
                : throw new InvalidOperationException("Storage:Provider is postgres but ConnectionStrings:Vardbro is not set.");
        }
        else if (provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase))
        {
            DataDirectory = Path.GetFullPath(configuration["Storage:DataDirectory"] ?? "data", environment.ContentRootPath);
            Directory.CreateDirectory(DataDirectory);
            SqliteConnectionString = StorageSetup.SqliteConnectionString(Path.Combine(DataDirectory, "vardbro.db"));
            SqliteAuditConnectionString = StorageSetup.SqliteConnectionString(SqliteAuditFile.PathFor(SqliteConnectionString));
        }
        else
        {
            throw new InvalidOperationException($"Storage:Provider must be 'sqlite' or 'postgres', not '{provider}'.");
        }
    }

    public bool IsPostgres { get; }

    public string? DataDirectory { get; }

    public string SqliteConnectionString { get; } = "";

    /// <summary>The audit trail's own file on SQLite (<see cref="SqliteAuditFile"/>).</summary>
    public string SqliteAuditConnectionString { get; } = "";

    public string PostgresConnectionString { get; } = "";
}

// Used by `dotnet ef migrations add`; no database is contacted.
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteVardbroDb>
{
    public SqliteVardbroDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteVardbroDb>().UseSqlite("Data Source=design.db").Options);
}

public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresVardbroDb>
{
    public PostgresVardbroDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresVardbroDb>().UseNpgsql("Host=localhost").Options);
}

/// <summary>The request scope's <see cref="VardbroDb"/> for code outside the server (the built-in EHR's connector).</summary>
public sealed class RequestStore(VardbroDb db) : IScopedStore
{
    public StoreDb Db => db;
}
