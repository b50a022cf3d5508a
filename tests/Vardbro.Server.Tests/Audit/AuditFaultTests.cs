using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Vardbro.Connectors.Local;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vardbro.Server.Tests.Audit;

/// <summary>A server that waits at most one second for an audit event to be stored.</summary>
public sealed class AuditFaultFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Audit:MaxWaitSeconds"] = "1" }));
    }
}

/// <summary>
/// A failed audit commit is retried, never dropped: when the audit store fails during a burst of
/// writes (here: its table renamed away, so every insert is refused, then renamed back), each write
/// that committed gets its event once the store takes events again, although its request was
/// answered 503; and one event the database refuses does not hold back the others.
/// </summary>
public sealed class AuditFaultTests(AuditFaultFactory factory, ITestOutputHelper output) : IClassFixture<AuditFaultFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [Fact]
    public async Task Every_write_committed_while_the_audit_store_fails_has_its_event_once_it_recovers()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "audit fault", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        await client.GetJsonAsync($"{L01}/patients?last_name=tolvansson");

        var numbers = SyntheticPersonalNumbers().Take(40).ToArray();
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?resource_id=1001&healthcare_service_id=L0_1-general")).AsArray()
            .Take(20).Select(slot => (Start: (string)slot!["start"]!, End: (string)slot["end"]!)).ToArray();
        async Task<HttpStatusCode> CreateAsync(string number, int i)
        {
            using var body = JsonContent.Of(JsonSerializer.Serialize(new { first_name = "Burst", last_name = $"Fault{i}", external_id = number }));
            using var response = await client.PostAsync(new Uri($"{L01}/patients", UriKind.Relative), body);
            return response.StatusCode;
        }

        HttpStatusCode first;
        Task<HttpStatusCode>[] burst;
        Task<HttpStatusCode>[] bookings;
        await using (await BreakAuditStoreAsync())
        {
            // The first write commits, but its event cannot be stored while the store is down: 503.
            first = await CreateAsync(numbers[0], 0);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, first);

            burst = [.. numbers.Skip(1).Select(async (number, i) =>
            {
                await Task.Delay(i * 80);
                return await CreateAsync(number, i + 1);
            })];
            bookings = [.. slots.Select(async (slot, i) =>
            {
                await Task.Delay(15 + (i * 200));
                using var body = JsonContent.Of(JsonSerializer.Serialize(new { start = slot.Start, end = slot.End, patient_id = "se_personal_number:191212121212", resource_id = "1001" }));
                using var response = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), body);
                return response.StatusCode;
            })];

            // The store recovers while the burst is still coming in.
            await Task.Delay(1000);
        }

        HttpStatusCode[] statuses = [first, .. await Task.WhenAll(burst)];
        var booked = await Task.WhenAll(bookings);
        Assert.All(booked, s => Assert.True(s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable, $"{s}"));
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable, $"{s}"));
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);

        // Every patient the burst committed, whatever its answer was.
        var committed = await factory.WithDbAsync(db => db.Set<PatientRow>().AsNoTracking()
            .Where(p => p.SePersonalNumber != null && numbers.Contains(p.SePersonalNumber))
            .Select(p => new { p.Emr, p.EmrId, p.SePersonalNumber }).ToListAsync());
        Assert.NotEmpty(committed);
        var ids = committed.Select(p => Ids.VardbroPatientId(p.Emr, p.EmrId)).ToHashSet();

        // Every appointment the burst booked.
        var starts = slots.Select(s => DateTimeOffset.Parse(s.Start, System.Globalization.CultureInfo.InvariantCulture).UtcTicks).ToHashSet();
        var appointments = (await factory.WithDbAsync(db => db.Set<AppointmentRow>().AsNoTracking().Where(a => a.Emr == "webdoc" && a.ResourceId == "1001").ToListAsync()))
            .Where(a => starts.Contains(a.StartUtc.UtcTicks)).Select(a => a.Id).ToHashSet();
        Assert.NotEmpty(appointments);

        // Retries back off to 5 s at most: by then every queued event is stored.
        HashSet<string> audited = [];
        HashSet<string> auditedBookings = [];
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var events = await factory.WithAuditDbAsync(db => db.AuditEvents.AsNoTracking()
                .Where(e => e.ClientId == clientId && e.OutcomeStatus == 201 && e.ResourceId != null)
                .Select(e => new { e.Action, e.ResourceId }).ToListAsync());
            audited = events.Where(e => e.Action == "patient.create").Select(e => e.ResourceId!).ToHashSet();
            auditedBookings = events.Where(e => e.Action == "appointment.book").Select(e => e.ResourceId!).ToHashSet();
            if ((ids.IsSubsetOf(audited) && appointments.IsSubsetOf(auditedBookings)) || waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                break;
            }

            await Task.Delay(200);
        }

        var answered = statuses.Count(s => s == HttpStatusCode.Created);
        output.WriteLine($"{committed.Count} patients committed, {answered} answered 201, {statuses.Length - answered} answered 503; {audited.Count} create events");
        output.WriteLine($"{appointments.Count} appointments booked, {booked.Count(s => s == HttpStatusCode.Created)} answered 201; {auditedBookings.Count} book events");
        Assert.Empty(ids.Except(audited));
        Assert.Empty(appointments.Except(auditedBookings));

        // Committed writes answered 503: the case a dropped batch used to leave without an event.
        Assert.True(committed.Count > answered, $"{committed.Count} committed, {answered} answered 201");

        using var check = factory.Admin();
        var verified = await check.GetJsonAsync("/api/admin/audit/verify");
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
    }

    [Fact]
    public async Task An_event_the_database_refuses_is_stored_cleaned_and_does_not_hold_back_the_others()
    {
        var log = factory.Services.GetRequiredService<AuditLog>();
        var marker = Guid.NewGuid().ToString("N");
        var now = factory.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        AuditEventRow Event(string? action, string resourceId, string clientId) => new()
        {
            At = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero),
            ClientId = clientId,
            Action = action!,
            ResourceType = "patient",
            ResourceId = resourceId,
            OutcomeStatus = 200,
            RequestId = marker,
        };

        // No action (the column is NOT NULL), a client id longer than its column (PostgreSQL refuses it),
        // and a lone UTF-16 surrogate, which has no UTF-8 form.
        await Task.WhenAll(
            log.WriteAsync(Event("patient.read", "before", "poison-test")),
            log.WriteAsync(Event(null, "bad\ud800one", new string('c', 100))),
            log.WriteAsync(Event("patient.read", "after", "poison-test")));

        var stored = await factory.WithAuditDbAsync(db => db.AuditEvents.AsNoTracking().Where(e => e.RequestId == marker).OrderBy(e => e.Seq).ToListAsync());
        Assert.Equal(["before", "bad?one", "after"], stored.Select(e => e.ResourceId));
        Assert.Equal(["patient.read", "", "patient.read"], stored.Select(e => e.Action));
        Assert.Equal(new string('c', 64), stored[1].ClientId);

        using var admin = factory.Admin();
        var verified = await admin.GetJsonAsync("/api/admin/audit/verify");
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
    }

    /// <summary>Makes every audit insert fail (the table renamed away) until disposed.</summary>
    private async Task<IAsyncDisposable> BreakAuditStoreAsync()
    {
        if (TestDatabase.IsPostgres)
        {
            var pg = new NpgsqlConnection(factory.Database.ConnectionString);
            await pg.OpenAsync();
            await ExecuteAsync(pg, "ALTER TABLE audit_events RENAME TO audit_events_away");
            return new Restore(pg, "ALTER TABLE audit_events_away RENAME TO audit_events");
        }

        var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(factory.Database.DataDirectory, SqliteAuditFile.FileName),
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        await sqlite.OpenAsync();
        await ExecuteAsync(sqlite, "ALTER TABLE audit_events RENAME TO audit_events_away");
        return new Restore(sqlite, "ALTER TABLE audit_events_away RENAME TO audit_events");
    }

    private static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private sealed class Restore(System.Data.Common.DbConnection connection, string sql) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await ExecuteAsync(connection, sql);
            await connection.DisposeAsync();
        }
    }

    /// <summary>Checksum-valid Swedish personal numbers born 1970-03-03, none of them a sandbox patient.</summary>
    private static IEnumerable<string> SyntheticPersonalNumbers()
    {
        for (var serial = 100; serial < 1000; serial++)
        {
            var body = $"700303{serial}";
            var sum = 0;
            for (var i = 0; i < body.Length; i++)
            {
                var d = (body[i] - '0') * (i % 2 == 0 ? 2 : 1);
                sum += d > 9 ? d - 9 : d;
            }

            yield return $"19{body}{(10 - (sum % 10)) % 10}";
        }
    }
}
