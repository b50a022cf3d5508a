using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Vardbro.Server.Storage;

public static class StorageSetup
{
    /// <summary>Registers <see cref="VardbroDb"/> for the configured provider (SQLite unless <c>Storage:Provider=postgres</c>).</summary>
    public static IServiceCollection AddVardbroStorage(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var provider = configuration["Storage:Provider"] ?? "sqlite";
        if (provider.Equals("postgres", StringComparison.OrdinalIgnoreCase) || provider.Equals("postgresql", StringComparison.OrdinalIgnoreCase))
        {
            var connectionString = configuration.GetConnectionString("Vardbro");
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new InvalidOperationException("Storage:Provider is postgres but ConnectionStrings:Vardbro is not set.");
            }

            services.AddDbContextPool<VardbroDb, PostgresVardbroDb>(o => o.UseNpgsql(connectionString));
        }
        else if (provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase))
        {
            var dataDirectory = Path.GetFullPath(configuration["Storage:DataDirectory"] ?? "data", environment.ContentRootPath);
            Directory.CreateDirectory(dataDirectory);
            var connectionString = SqliteConnectionString(Path.Combine(dataDirectory, "vardbro.db"));
            services.AddDbContextPool<VardbroDb, SqliteVardbroDb>(o => o.UseSqlite(connectionString));
        }
        else
        {
            throw new InvalidOperationException($"Storage:Provider must be 'sqlite' or 'postgres', not '{provider}'.");
        }

        services.AddScoped<DbContext>(sp => sp.GetRequiredService<VardbroDb>());
        return services;
    }

    public static string SqliteConnectionString(string file) => new SqliteConnectionStringBuilder
    {
        DataSource = file,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Applies the provider's migrations; on SQLite also turns on write-ahead logging.</summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        if (!db.IsPostgres)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        await db.Database.MigrateAsync(cancellationToken);
    }
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
