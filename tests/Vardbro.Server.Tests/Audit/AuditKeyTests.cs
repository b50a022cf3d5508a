using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Vardbro.Server.Audit;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Audit;

/// <summary>
/// A server on a given database with some settings of its own, and a short shutdown (3 s, so a server
/// whose audit writes fail gives up soon) unless <paramref name="shutdown"/> says otherwise.
/// </summary>
public sealed class AuditSettingsFactory(TestDatabase database, Dictionary<string, string?> settings, TimeSpan? shutdown = null)
    : VardbroFactory(database, ownsDatabase: false)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
        builder.ConfigureServices(s => s.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown ?? TimeSpan.FromSeconds(3)));
    }
}

/// <summary>
/// The chain is sealed with a key the database does not hold (ADR 10): generated beside the data on
/// the first start, or taken from <c>Audit:Key</c>; someone who can write the database but has not the
/// key cannot reseal it, and a server with another key neither extends nor accepts the chain.
/// </summary>
public sealed class AuditKeyTests
{
    private const string Tolvan = "/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212";

    private static async Task<List<AuditEventRow>> ChainAsync(VardbroFactory factory) =>
        await factory.WithAuditDbAsync(db => db.AuditEvents.AsNoTracking().Where(e => e.Seq != null).OrderBy(e => e.Seq).ToListAsync());

    private static async Task<JsonObject> VerifyAsync(VardbroFactory factory)
    {
        using var admin = factory.Admin();
        return (await admin.GetJsonAsync("/api/admin/audit/verify")).AsObject();
    }

    /// <summary>Whether every event of the chain is hashed with HMAC-SHA256 under <paramref name="key"/>.</summary>
    private static void AssertKeyedWith(byte[] key, List<AuditEventRow> chain)
    {
        var previous = AuditSealer.Genesis;
        var with = new AuditKey(key, "unused");
        foreach (var e in chain)
        {
            Assert.Equal(AuditSealer.HashOf(e, previous, with), e.Hash);
            Assert.NotEqual(AuditSealer.HashOf(e, previous), e.Hash);
            previous = e.Hash!;
        }
    }

    [Fact]
    public async Task A_key_is_generated_beside_the_data_on_the_first_start_and_kept_for_the_next()
    {
        using var database = TestDatabase.Create();
        var keyFile = Path.Combine(database.DataDirectory, AuditKey.DefaultFileName);
        Assert.False(File.Exists(keyFile));
        string keyText;
        using (var first = new AuditSettingsFactory(database, []))
        {
            using var client = first.Sandbox();
            await client.GetJsonAsync(Tolvan);
            await client.GetJsonAsync(Tolvan);
            keyText = await File.ReadAllTextAsync(keyFile);
            var key = Convert.FromBase64String(keyText.Trim());
            Assert.Equal(32, key.Length);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }

            AssertKeyedWith(key, await ChainAsync(first));
        }

        using var second = new AuditSettingsFactory(database, []);
        using (var client = second.Sandbox())
        {
            await client.GetJsonAsync(Tolvan);
        }

        Assert.Equal(keyText, await File.ReadAllTextAsync(keyFile));
        var verified = await VerifyAsync(second);
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
        Assert.Equal(3, (long)verified["events_checked"]!);
        Assert.Equal(1, (long)verified["keyed_from_seq"]!);
    }

    [Fact]
    public async Task A_key_from_the_settings_seals_the_chain_and_a_server_with_another_key_neither_accepts_nor_extends_it()
    {
        using var database = TestDatabase.Create();
        var key = RandomNumberGenerator.GetBytes(32);
        using (var first = new AuditSettingsFactory(database, new() { ["Audit:Key"] = Convert.ToBase64String(key) }))
        {
            using var client = first.Sandbox();
            for (var i = 0; i < 3; i++)
            {
                await client.GetJsonAsync(Tolvan);
            }

            AssertKeyedWith(key, await ChainAsync(first));
            Assert.True((bool)(await VerifyAsync(first))["valid"]!);
        }

        Assert.False(File.Exists(Path.Combine(database.DataDirectory, AuditKey.DefaultFileName)));

        var other = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        using var second = new AuditSettingsFactory(database, new() { ["Audit:Key"] = other, ["Audit:MaxWaitSeconds"] = "1" });
        var verified = await VerifyAsync(second);
        Assert.False((bool)verified["valid"]!);
        Assert.Equal("key_mismatch", (string?)verified["reason"]);
        Assert.Equal(1, (long)verified["broken_at_seq"]!);
        Assert.Equal(3, (long)verified["head_seq"]!);

        // Events sealed with a second key could never be verified: the request is refused instead.
        using (var client = second.Sandbox())
        {
            using var response = await client.GetAsync(new Uri(Tolvan, UriKind.Relative));
            await response.ProblemAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        }

        Assert.Equal(3, (await ChainAsync(second)).Count);
    }

    [Fact]
    public async Task A_chain_sealed_before_the_key_keeps_verifying_and_is_keyed_from_the_next_event()
    {
        using var own = new VardbroFactory();

        // Three events as versions before the key sealed them: plain SHA-256, no key marker.
        await own.WithAuditDbAsync(async db =>
        {
            var earlier = Enumerable.Range(1, 3).Select(i => new AuditEventRow
            {
                At = new DateTimeOffset(2026, 3, 2, 9, 0, i, TimeSpan.Zero),
                ClientId = "earlier-client",
                Action = "patient.read",
                ResourceType = "patient",
                OutcomeStatus = 200,
                RequestId = Guid.NewGuid().ToString(),
            }).ToList();
            await AuditSealer.InsertSealedAsync(db, earlier, key: null, CancellationToken.None);
            return 0;
        });
        var plain = await VerifyAsync(own);
        Assert.True((bool)plain["valid"]!, plain.ToJsonString());
        Assert.Null((long?)plain["keyed_from_seq"]);

        using var client = own.Sandbox();
        await client.GetJsonAsync(Tolvan);
        await client.GetJsonAsync(Tolvan);
        await own.Services.GetRequiredService<AuditAnchors>().AnchorAsync(CancellationToken.None);
        var keyed = await VerifyAsync(own);
        Assert.True((bool)keyed["valid"]!, keyed.ToJsonString());
        Assert.Equal(5, (long)keyed["events_checked"]!);
        Assert.Equal(4, (long)keyed["keyed_from_seq"]!);
        var chain = await ChainAsync(own);
        Assert.Equal(AuditSealer.HashOf(chain[2], chain[1].Hash!), chain[2].Hash);
        Assert.NotEqual(AuditSealer.HashOf(chain[3], chain[2].Hash!), chain[3].Hash);

        // Moving the marker back over the plain events is caught: they do not match under the key.
        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE audit_seal SET \"LastSeq\" = 1 WHERE \"Id\" = 2"));
        var moved = await VerifyAsync(own);
        Assert.False((bool)moved["valid"]!, moved.ToJsonString());
        Assert.Equal("key_marker_changed", (string?)moved["reason"]);
    }

    [Fact]
    public async Task Removing_the_newest_events_and_rewinding_the_seal_is_found_by_the_anchor()
    {
        using var own = new VardbroFactory();
        using var client = own.Sandbox();
        for (var i = 0; i < 6; i++)
        {
            await client.GetJsonAsync(Tolvan);
        }

        await own.Services.GetRequiredService<AuditAnchors>().AnchorAsync(CancellationToken.None);
        var anchorFile = Path.Combine(own.Database.DataDirectory, AuditKey.DefaultAnchorFileName);
        Assert.Contains(" seq=6 hash=", await File.ReadAllTextAsync(anchorFile), StringComparison.Ordinal);
        var before = await VerifyAsync(own);
        Assert.True((bool)before["valid"]!, before.ToJsonString());
        Assert.Equal(6, (long)before["anchored_seq"]!);
        Assert.Equal(1, (long)before["anchors_checked"]!);

        // The issue's attack: the newest events deleted and the head rewound to what is left, all consistent.
        await own.WithAuditDbAsync(async db =>
        {
            await db.Database.ExecuteSqlRawAsync("DELETE FROM audit_events WHERE \"Seq\" > 4");
            var fourth = await db.AuditEvents.Where(e => e.Seq == 4).Select(e => e.Hash).SingleAsync();
            return await db.Database.ExecuteSqlRawAsync("UPDATE audit_seal SET \"LastSeq\" = 4, \"LastHash\" = {0} WHERE \"Id\" = 1", fourth!);
        });
        var truncated = await VerifyAsync(own);
        Assert.False((bool)truncated["valid"]!, truncated.ToJsonString());
        Assert.Equal("truncated", (string?)truncated["reason"]);
        Assert.Equal(6, (long)truncated["anchored_seq"]!);
        Assert.NotNull((string?)truncated["anchored_at"]);
        Assert.Equal(4, (long)truncated["head_seq"]!);
        Assert.Equal(4, (long)truncated["events_checked"]!);
        Assert.Equal(5, (long)truncated["broken_at_seq"]!);

        // The server goes on from the rewound head: seq 5 and 6 come again, but not with the anchored hash.
        for (var i = 0; i < 3; i++)
        {
            await client.GetJsonAsync(Tolvan);
        }

        var rewritten = await VerifyAsync(own);
        Assert.False((bool)rewritten["valid"]!, rewritten.ToJsonString());
        Assert.Equal("anchor_mismatch", (string?)rewritten["reason"]);
        Assert.Equal(6, (long)rewritten["broken_at_seq"]!);
        Assert.Equal(6, (long)rewritten["anchored_seq"]!);
    }

    [Fact]
    public async Task A_chain_resealed_without_the_key_is_invalid()
    {
        using var own = new VardbroFactory();
        using var client = own.Sandbox();
        for (var i = 0; i < 6; i++)
        {
            await client.GetJsonAsync(Tolvan);
        }

        await own.Services.GetRequiredService<AuditAnchors>().AnchorAsync(CancellationToken.None);

        // What an attacker who can write the database computes: the chain's published form, plain SHA-256.
        await own.WithAuditDbAsync(async db =>
        {
            await db.Database.ExecuteSqlRawAsync("DELETE FROM audit_events WHERE \"Seq\" > 4");
            var previous = AuditSealer.Genesis;
            foreach (var e in await db.AuditEvents.Where(e => e.Seq != null).OrderBy(e => e.Seq).ToListAsync())
            {
                e.Hash = AuditSealer.HashOf(e, previous);
                previous = e.Hash;
            }

            await db.SaveChangesAsync();
            return await db.Database.ExecuteSqlRawAsync("UPDATE audit_seal SET \"LastSeq\" = 4, \"LastHash\" = {0} WHERE \"Id\" = 1", previous);
        });
        var resealed = await VerifyAsync(own);
        Assert.False((bool)resealed["valid"]!, resealed.ToJsonString());
        Assert.Equal("altered", (string?)resealed["reason"]);
        Assert.Equal(1, (long)resealed["broken_at_seq"]!);

        // Without the key marker the plain chain is whole, but the anchor says it was keyed.
        await own.WithAuditDbAsync(db => db.Database.ExecuteSqlRawAsync("DELETE FROM audit_seal WHERE \"Id\" = 2"));
        var unmarked = await VerifyAsync(own);
        Assert.False((bool)unmarked["valid"]!, unmarked.ToJsonString());
        Assert.Equal("key_marker_changed", (string?)unmarked["reason"]);
        Assert.Equal(6, (long)unmarked["anchored_seq"]!);
    }

    [Fact]
    public async Task The_head_is_anchored_at_the_interval()
    {
        using var database = TestDatabase.Create();
        var anchorFile = Path.Combine(database.DataDirectory, "anchors", "head.log");
        using var server = new AuditSettingsFactory(database, new() { ["Audit:AnchorIntervalSeconds"] = "1", ["Audit:AnchorFile"] = anchorFile });
        using var client = server.Sandbox();
        await client.GetJsonAsync(Tolvan);
        await client.GetJsonAsync(Tolvan);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!(File.Exists(anchorFile) && (await File.ReadAllTextAsync(anchorFile)).Contains(" seq=2 ", StringComparison.Ordinal)))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "the head was not anchored within 20 s");
            await Task.Delay(100);
        }

        var line = (await File.ReadAllLinesAsync(anchorFile)).Last(l => l.Length > 0);
        Assert.Matches(@"^\S+ seq=2 hash=[0-9a-f]{64} keyed_from=1 mac=[0-9a-f]{64}$", line);
        var verified = await VerifyAsync(server);
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
        Assert.Equal(2, (long)verified["anchored_seq"]!);
    }

    [Fact]
    public async Task The_head_is_anchored_at_shutdown_even_when_the_hosts_shutdown_time_is_spent()
    {
        using var database = TestDatabase.Create();
        var anchorFile = Path.Combine(database.DataDirectory, AuditKey.DefaultAnchorFileName);
        // No shutdown time at all: every service is stopped with a cancelled token, as when the
        // services stopped before the anchor (dispatchers, the writer) have used the host's time up.
        using (var server = new AuditSettingsFactory(database, new() { ["Audit:AnchorIntervalSeconds"] = "3600" }, TimeSpan.Zero))
        {
            using var client = server.Sandbox();
            for (var i = 0; i < 3; i++)
            {
                await client.GetJsonAsync(Tolvan);
            }

            Assert.False(File.Exists(anchorFile));
        }

        var line = Assert.Single(await File.ReadAllLinesAsync(anchorFile), l => l.Length > 0);
        Assert.Contains(" seq=3 hash=", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_stopped_twice_at_once_returns_from_neither_stop_before_the_head_is_anchored()
    {
        using var database = TestDatabase.Create();

        // The anchor file is a FIFO: the anchor's write waits until the test reads it, so the first
        // stop is held inside its anchor while the second stop runs.
        var anchorFile = Path.Combine(database.DataDirectory, "anchor.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", anchorFile))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var server = new AuditSettingsFactory(database, new() { ["Audit:AnchorIntervalSeconds"] = "3600", ["Audit:AnchorFile"] = anchorFile });
        using (var client = server.Sandbox())
        {
            await client.GetJsonAsync(Tolvan);
        }

        // What a server's own run loop and its owner do when both stop it.
        var anchors = server.Services.GetRequiredService<AuditAnchors>();
        Task[] stops = [Task.Run(() => anchors.StopAsync(CancellationToken.None)), Task.Run(() => anchors.StopAsync(CancellationToken.None))];
        await Task.Delay(TimeSpan.FromSeconds(1));
        var returnedEarly = stops.Count(stop => stop.IsCompleted);

        using var reader = new StreamReader(anchorFile); // lets the anchor through, whatever the count says
        var line = await reader.ReadLineAsync();
        await Task.WhenAll(stops);
        Assert.True(returnedEarly == 0, $"{returnedEarly} stop(s) returned while the head's anchor was still being written");
        Assert.Contains(" seq=1 hash=", line, StringComparison.Ordinal);
    }
}
