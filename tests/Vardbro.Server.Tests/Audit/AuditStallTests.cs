using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Audit;

/// <summary>A server that waits at most one second for an audit event to be stored.</summary>
public sealed class AuditStallFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Audit:MaxWaitSeconds"] = "1" }));
    }
}

/// <summary>
/// When the audit trail cannot store an event (here: another process holds the write lock of the
/// audit trail's SQLite file, or a lock on the audit table), the request is answered 503 in the envelope, without the
/// patient data and without waiting for ever; once the lock is gone the server answers as before.
/// </summary>
public sealed class AuditStallTests(AuditStallFactory factory) : IClassFixture<AuditStallFactory>
{
    private const string Tolvan = "/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212";

    [Fact]
    public async Task A_read_whose_audit_event_cannot_be_stored_in_time_is_503_and_the_server_recovers()
    {
        using var client = factory.Sandbox();
        await client.GetJsonAsync(Tolvan);

        await using (await BlockAuditWritesAsync())
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync(new Uri(Tolvan, UriKind.Relative));
            var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
            Assert.DoesNotContain("Tolvan", problem.ToJsonString(), StringComparison.OrdinalIgnoreCase);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"answered after {clock.Elapsed}");
        }

        var patient = await client.GetJsonAsync(Tolvan);
        Assert.Equal("Tolvansson", (string?)patient["last_name"]);
    }

    /// <summary>Holds what the audit writer needs until disposed, from a connection of its own.</summary>
    private async Task<IAsyncDisposable> BlockAuditWritesAsync()
    {
        if (TestDatabase.IsPostgres)
        {
            var pg = new NpgsqlConnection(factory.Database.ConnectionString);
            await pg.OpenAsync();
            var transaction = await pg.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE", pg, transaction))
            {
                await command.ExecuteNonQueryAsync();
            }

            return pg; // closing it rolls the transaction back and frees the table
        }

        var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(factory.Database.DataDirectory, SqliteAuditFile.FileName),
            Pooling = false,
        }.ToString());
        await sqlite.OpenAsync();
        await using (var command = sqlite.CreateCommand())
        {
            command.CommandText = "BEGIN IMMEDIATE";
            await command.ExecuteNonQueryAsync();
        }

        return sqlite; // closing it rolls back and gives the write lock up
    }
}
