using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Auth;

/// <summary>Secrets verified by a keyed fast hash: wrong secrets cost no CPU to speak of, and an unknown id answers like a known one.</summary>
public sealed class SecretHashTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string Patients = "/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212";

    private async Task<(string Id, string Secret)> NewClientAsync()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "hash test", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        return ((string)created["client_id"]!, (string)created["client_secret"]!);
    }

    private async Task<HttpStatusCode> GetAsync(string id, string secret)
    {
        using var client = factory.WithCredentials(id, secret);
        using var response = await client.GetAsync(new Uri(Patients, UriKind.Relative));
        return response.StatusCode;
    }

    [Fact]
    public async Task A_burst_of_wrong_secrets_is_refused_without_running_the_slow_hash()
    {
        var (id, secret) = await NewClientAsync();
        Assert.StartsWith(SecretHasher.Scheme + "$", await factory.WithDbAsync(db => db.Clients.Where(c => c.Id == id).Select(c => c.SecretHash).SingleAsync()), StringComparison.Ordinal);
        var before = SecretHasher.SlowHashesRun;

        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(id, secret + i));
        }

        Assert.Equal(before, SecretHasher.SlowHashesRun);
        Assert.Equal(HttpStatusCode.OK, await GetAsync(id, secret));
    }

    [Fact]
    public async Task A_secret_stored_as_pbkdf2_is_accepted_and_upgraded_on_its_first_use()
    {
        const string secret = "sec_an-old-secret-from-before-the-keyed-hash";
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(secret, salt, 100_000, HashAlgorithmName.SHA256, 32);
        var id = "cli_old" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await factory.WithDbAsync(async db =>
        {
            db.Clients.Add(new ClientRow
            {
                Id = id,
                Name = "old",
                SecretHash = $"pbkdf2-sha256$100000${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}",
                SecretStamp = Secrets.NewStamp(),
                GrantsJson = """[{"Emr":"webdoc","CareUnits":["*"]}]""",
            });
            return await db.SaveChangesAsync();
        });

        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(id, secret + "x"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(id, secret));

        var stored = await factory.WithDbAsync(db => db.Clients.Where(c => c.Id == id).Select(c => c.SecretHash).SingleAsync());
        Assert.StartsWith(SecretHasher.Scheme + "$", stored, StringComparison.Ordinal);
        Assert.Equal(SecretHasher.Verification.Accepted, new SecretHasher(new ConfigurationBuilder().Build()).Verify(secret, stored));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(id, secret));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(id, secret + "x"));
    }

    [Fact]
    public async Task Unknown_and_known_client_ids_take_the_same_time_to_be_refused()
    {
        var (id, secret) = await NewClientAsync();
        await GetAsync(id, secret); // warm
        var known = new List<double>();
        var unknown = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            known.Add(await TimeAsync(id, secret + "wrong"));
            unknown.Add(await TimeAsync("cli_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10)), secret));
        }

        var (k, u) = (Median(known), Median(unknown));

        // Before the keyed hash: 24.9 ms against 1.6 ms, a factor of 15.
        Assert.InRange(k / u, 0.5, 2.0);
    }

    [Fact]
    public void A_configured_key_marks_its_hashes_and_upgrades_those_made_without_it()
    {
        static SecretHasher With(string? key) => new(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:SecretKey"] = key }).Build());
        var keyed = With(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        var other = With(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        var none = With(null);

        var hash = keyed.Hash("sec_x");
        Assert.DoesNotContain("$none$", hash, StringComparison.Ordinal);
        Assert.Equal(SecretHasher.Verification.Accepted, keyed.Verify("sec_x", hash));
        Assert.Equal(SecretHasher.Verification.Refused, keyed.Verify("sec_y", hash));
        Assert.Equal(SecretHasher.Verification.Refused, other.Verify("sec_x", hash));
        Assert.Equal(SecretHasher.Verification.Upgrade, keyed.Verify("sec_x", none.Hash("sec_x")));
        Assert.Equal(SecretHasher.Verification.Refused, keyed.Verify("sec_x", null));
        Assert.Throws<InvalidOperationException>(() => With("c2hvcnQ="));
    }

    private async Task<double> TimeAsync(string id, string secret)
    {
        var started = Stopwatch.GetTimestamp();
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(id, secret));
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
