using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Retry;
using Vardbro.Server.Api;
using Vardbro.Connectors.Local;
using Vardbro.Storage;

namespace Vardbro.Server.Storage;

public static partial class StorageSetup
{
    /// <summary>
    /// Registers <see cref="VardbroDb"/> for the configured provider (SQLite unless
    /// <c>Storage:Provider=postgres</c>). Configuration is read when the first context is made, so
    /// that settings added after registration (tests, environment overrides) count.
    /// </summary>
    public static IServiceCollection AddVardbroStorage(this IServiceCollection services)
    {
        services.AddSettings<StorageOptions>(StorageOptions.Section)
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString = configuration.GetConnectionString("Vardbro"));
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

    /// <summary>
    /// The operator's PostgreSQL connection string with Vardbro's defaults where it names none:
    /// <c>Max Auto Prepare=64</c> (Npgsql prepares a statement on a connection once it has run it a few
    /// times, so the hot reads and the audit insert are parsed and planned once per connection, not
    /// once per request) and <c>No Reset On Close=true</c> (no <c>DISCARD ALL</c> each time a pooled
    /// connection is handed back, several per request, which would also drop those prepared statements).
    /// Vardbro keeps no session state: its only lock is <c>pg_advisory_xact_lock</c>, released at commit.
    /// A value the operator sets, 0 or false included, is kept.
    /// </summary>
    public static string PostgresConnectionString(string configured)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = configured };
        var named = given.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant()).ToHashSet();
        var builder = new NpgsqlConnectionStringBuilder(configured);
        if (!named.Contains("MAXAUTOPREPARE"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!named.Contains("NORESETONCLOSE"))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ConnectionString;
    }

    /// <summary>How long a command waits for another writer's lock before failing.</summary>
    public const int SqliteTimeoutSeconds = 30;

    /// <summary>
    /// Applies the provider's migrations; on SQLite also turns on write-ahead logging and keeps the
    /// audit trail in its own file (<see cref="SqliteAuditFile"/>). A PostgreSQL server that cannot be
    /// reached yet (still starting, its container not up) is tried again after 1 s, 2 s, 4 s … (10 s at
    /// most) for <c>Storage:StartupRetrySeconds</c> from the first failure, each wait logged; after that the start fails with
    /// <see cref="StartupFailedException"/>.
    /// </summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var settings = services.GetRequiredService<StorageSettings>();
        var time = services.GetRequiredService<TimeProvider>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Vardbro.Storage");
        long? firstFailure = null;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                // The time counts from the first failure: a slow first try (a cold start) does not use it up.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is NpgsqlException { IsTransient: true } && time.GetElapsedTime(firstFailure ??= time.GetTimestamp()) < settings.StartupRetry),
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromSeconds(1),
                MaxDelay = TimeSpan.FromSeconds(10),
                UseJitter = false,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    LogDatabaseNotReachable(logger, args.Outcome.Exception?.Message, args.RetryDelay.TotalSeconds, Math.Max(0, (settings.StartupRetry - time.GetElapsedTime(firstFailure ?? time.GetTimestamp())).TotalSeconds));
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        try
        {
            await pipeline.ExecuteAsync(async token => await MigrateOnceAsync(services, token), cancellationToken);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            throw new StartupFailedException($"The database could not be reached within Storage:StartupRetrySeconds ({settings.StartupRetry.TotalSeconds} s): {ex.Message}", ex);
        }
    }

    private static async Task MigrateOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database cannot be reached yet ({Reason}); trying again in {DelaySeconds} s ({LeftSeconds:0} s left of Storage:StartupRetrySeconds)")]
    private static partial void LogDatabaseNotReachable(ILogger logger, string? reason, double delaySeconds, double leftSeconds);
}

/// <summary>Where the data lives, from <see cref="StorageOptions"/> (already checked when the server starts).</summary>
public sealed class StorageSettings
{
    public StorageSettings(IOptions<StorageOptions> options, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var storage = options.Value;
        StartupRetry = TimeSpan.FromSeconds(storage.StartupRetrySeconds);
        if (storage.IsPostgres)
        {
            IsPostgres = true;
            PostgresConnectionString = storage.ConnectionString is { Length: > 0 } cs
                ? StorageSetup.PostgresConnectionString(cs)
                : throw new InvalidOperationException("Storage:Provider is postgres but ConnectionStrings:Vardbro is not set.");
        }
        else if (storage.IsSqlite)
        {
            var directory = storage.DataDirectory ?? StorageOptions.DefaultDataDirectory()
                ?? throw new InvalidOperationException("Storage:DataDirectory is not set and there is no default data directory.");
            DataDirectory = Path.GetFullPath(directory, environment.ContentRootPath);
            try
            {
                Directory.CreateDirectory(DataDirectory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"Storage:DataDirectory '{DataDirectory}' cannot be created: {ex.Message}", ex);
            }

            SqliteConnectionString = StorageSetup.SqliteConnectionString(Path.Combine(DataDirectory, "vardbro.db"));
            SqliteAuditConnectionString = StorageSetup.SqliteConnectionString(SqliteAuditFile.PathFor(SqliteConnectionString));
        }
        else
        {
            throw new InvalidOperationException($"Storage:Provider must be 'sqlite' or 'postgres', not '{storage.Provider}'.");
        }
    }

    public bool IsPostgres { get; }

    public string? DataDirectory { get; }

    public string SqliteConnectionString { get; } = "";

    /// <summary>The audit trail's own file on SQLite (<see cref="SqliteAuditFile"/>).</summary>
    public string SqliteAuditConnectionString { get; } = "";

    public string PostgresConnectionString { get; } = "";

    /// <summary>How long the start retries a database it cannot reach (<c>Storage:StartupRetrySeconds</c>).</summary>
    public TimeSpan StartupRetry { get; }
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
