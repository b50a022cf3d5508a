using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// SIGTERM (a deploy, a scale-in): the server stops accepting, lets the requests it took finish,
/// stores every audit event it had queued, and gives back the notifications it was still sending
/// (due at once for the next start or another instance), then exits with 0.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed partial class GracefulShutdownTests
{
    private const string Tolvan = "/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212";

    [Fact]
    public async Task SIGTERM_with_reads_in_flight_stores_the_audit_event_of_every_answered_read()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        settings["Admin:Key"] = ServerProcess.AdminKey;

        string patientId;
        int before;
        int answered;
        await using (var server = await ServerProcess.StartAsync(settings))
        {
            using var sandbox = server.Sandbox();
            patientId = (string)(await sandbox.GetJsonAsync(Tolvan))["id"]!;
            using var admin = server.Admin();
            before = await CountEventsAsync(admin, patientId);

            // Eight loops read as fast as they can; SIGTERM goes out while they run. A loop ends at
            // the first request the stopping server no longer takes.
            using var started = new SemaphoreSlim(0);
            var loops = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                var ok = 0;
                started.Release();
                while (true)
                {
                    try
                    {
                        using var response = await sandbox.GetAsync(new Uri(Tolvan, UriKind.Relative));
                        if (response.StatusCode != HttpStatusCode.OK)
                        {
                            return ok;
                        }

                        ok++;
                    }
                    catch (HttpRequestException)
                    {
                        return ok;
                    }
                }
            })).ToList();
            for (var i = 0; i < loops.Count; i++)
            {
                await started.WaitAsync();
            }

            await Task.Delay(1500);
            await server.StopAsync();
            answered = (await Task.WhenAll(loops)).Sum();
            Assert.Equal(0, server.ExitCode);
            Assert.True(answered > 8, $"Only {answered} reads were answered: the test proved nothing.");
        }

        await using var again = await ServerProcess.StartAsync(settings);
        using var adminAgain = again.Admin();
        var events = await CountEventsAsync(adminAgain, patientId);

        // At least one event per answered read (a read whose answer was lost in the stop may have one too).
        Assert.True(events - before >= answered, $"{answered} reads were answered 200 but only {events - before} have an audit event.");
        var verify = await adminAgain.GetJsonAsync("/api/admin/audit/verify");
        Assert.True((bool)verify["valid"]!, verify.ToJsonString());
    }

    [Fact]
    public async Task SIGTERM_while_a_notification_is_being_sent_gives_it_back_for_the_next_start()
    {
        using var database = TestDatabase.Create();

        // The SMS gateway takes the request and never answers, so the send is in flight at SIGTERM.
        using var gateway = new TcpListener(IPAddress.Loopback, 0);
        gateway.Start();
        var settings = database.Settings();
        settings["Notifications:Http:Url"] = $"http://127.0.0.1:{((IPEndPoint)gateway.LocalEndpoint).Port}/sms";

        await using var server = await ServerProcess.StartAsync(settings);
        long id;
        await using (var db = Open(database))
        {
            var row = NotificationOutbox.Add(
                db, new NotificationSettings(Options.Create(new NotificationsOptions { Sender = "http", Http = new() { Url = settings["Notifications:Http:Url"] } })),
                TimeProvider.System, NotificationOutbox.Sms, "+46 70 000 00 09", "Your code is 424242.", "webdoc", null);
            await db.SaveChangesAsync();
            id = row.Id;
        }

        // The dispatcher polls every 2 s; wait until it has connected to the gateway with the message.
        using var accepted = await gateway.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await server.StopAsync();
        Assert.Equal(0, server.ExitCode);

        await using (var db = Open(database))
        {
            var row = await db.Notifications.AsNoTracking().SingleAsync(n => n.Id == id);

            // Not sent, no attempt counted, and due at once rather than leased for another two minutes.
            Assert.Equal((NotificationStatus.Pending, 0), (row.Status, row.Attempts));
            Assert.True(row.NextAttemptAt <= TimeProvider.System.GetUtcNow(), $"next attempt at {row.NextAttemptAt:O}");
        }
    }

    private static VardbroDb Open(TestDatabase database) => database.Provider == "postgres"
        ? new PostgresVardbroDb(new DbContextOptionsBuilder<PostgresVardbroDb>().UseNpgsql(database.ConnectionString).Options)
        : new SqliteVardbroDb(new DbContextOptionsBuilder<SqliteVardbroDb>().UseSqlite(StorageSetup.SqliteConnectionString(Path.Combine(database.DataDirectory, "vardbro.db"))).Options);

    private static async Task<int> CountEventsAsync(HttpClient admin, string patientId)
    {
        var count = 0;
        string? cursor = null;
        do
        {
            using var response = await admin.GetAsync(new Uri($"/api/admin/audit?limit=200&patient_id={patientId}" + (cursor is null ? string.Empty : $"&cursor={cursor}"), UriKind.Relative));
            var page = await response.JsonAsync(HttpStatusCode.OK);
            count += page.AsArray().Count;
            cursor = response.Headers.TryGetValues("Link", out var links) ? Cursor().Match(string.Join(',', links)).Groups[1].Value : null;
        }
        while (!string.IsNullOrEmpty(cursor));

        return count;
    }

    [GeneratedRegex("cursor=([^&>]+)")]
    private static partial Regex Cursor();
}
