using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Tests.Infrastructure;

/// <summary>
/// The real application in memory, on a fresh database of the provider under test, with the
/// sandbox seeded and an admin key set. One per test class (xunit class fixture).
/// </summary>
public class VardbroFactory : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key";
    public const string SandboxClientId = "sandbox-client";
    public const string SandboxSecret = "sandbox-secret";

    private readonly TestDatabase database;
    private readonly bool ownsDatabase;

    public VardbroFactory()
        : this(TestDatabase.Create(), ownsDatabase: true)
    {
    }

    /// <summary>A server on <paramref name="database"/>, e.g. the one an earlier server used; disposing the factory drops the database only when it owns it.</summary>
    protected VardbroFactory(TestDatabase database, bool ownsDatabase)
    {
        this.database = database;
        this.ownsDatabase = ownsDatabase;
    }

    /// <summary>The clock the server sees; tests move it where time matters.</summary>
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));

    public TestDatabase Database => database;

    protected virtual bool UseFakeTime => false;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseEnvironment("Development");
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        settings["Admin:Key"] = AdminKey;
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
        if (UseFakeTime)
        {
            builder.ConfigureServices(s => s.AddSingleton<TimeProvider>(Time));
        }
    }

    public HttpClient Admin()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("x-admin-key", AdminKey);
        return client;
    }

    /// <summary>Runs <paramref name="work"/> against the server's own database context.</summary>
    public async Task<T> WithDbAsync<T>(Func<VardbroDb, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<VardbroDb>());
    }

    /// <summary>Runs <paramref name="work"/> against the server's audit trail store (its own file on SQLite).</summary>
    public async Task<T> WithAuditDbAsync<T>(Func<VardbroDb, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using var scope = Services.CreateAsyncScope();
        await using var audit = Services.GetRequiredService<AuditStore>().Open(scope.ServiceProvider);
        return await work(audit.Db);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && ownsDatabase)
        {
            database.Dispose();
        }
    }
}

public static class JsonContent
{
    public static StringContent Of(string json) => new(json, new MediaTypeHeaderValue("application/json"));
}

/// <summary>Clients of any test server (a <see cref="VardbroFactory"/> or an app derived from one) that send API credentials.</summary>
public static class FactoryClients
{
    /// <summary>A client that sends the sandbox credentials.</summary>
    public static HttpClient Sandbox(this WebApplicationFactory<Program> app) => app.WithCredentials(VardbroFactory.SandboxClientId, VardbroFactory.SandboxSecret);

    public static HttpClient WithCredentials(this WebApplicationFactory<Program> app, string clientId, string secret)
    {
        ArgumentNullException.ThrowIfNull(app);
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("x-leyr-client-id", clientId);
        client.DefaultRequestHeaders.Add("x-leyr-client-secret", secret);
        return client;
    }
}
