using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Storage;
using Vardbro.Server.Emrs;
using Vardbro.Server.Sandbox;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Api;

/// <summary>What a client may use: per EMR code, all care units (<c>*</c>) or a list.</summary>
public sealed record Grant(string Emr, IReadOnlyList<string> CareUnits)
{
    public const string AllCareUnits = "*";

    public bool CoversAllCareUnits => CareUnits.Contains(AllCareUnits);
}

/// <summary>The authenticated client of the current request.</summary>
public sealed record ClientContext(string ClientId, IReadOnlyList<Grant> Grants)
{
    public bool MayUse(string emr) => Grants.Any(g => g.Emr == emr);

    public bool MayUse(string emr, string careUnitId) =>
        Grants.Any(g => g.Emr == emr && (g.CoversAllCareUnits || g.CareUnits.Contains(careUnitId)));

    public static ClientContext Of(HttpContext context) =>
        context?.Features.Get<ClientContext>() ?? throw new InvalidOperationException("No authenticated client on this request.");

    public static string? ActorOf(HttpContext context)
    {
        var actor = new string((context?.Request.Headers["x-actor-id"].ToString() ?? "").Where(c => !char.IsControl(c)).ToArray()).Trim();
        return actor.Length == 0 ? null : actor.Length > 256 ? actor[..256] : actor;
    }
}

/// <summary>New client ids, secrets and stamps; grants as stored.</summary>
public static class Secrets
{
    public static string NewClientId() => "cli_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    /// <summary>256 random bits: too many to guess, so a fast keyed hash protects them (<see cref="SecretHasher"/>).</summary>
    public static string NewSecret() =>
        "sec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string NewStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public static string SerializeGrants(IReadOnlyList<Grant> grants) => JsonSerializer.Serialize(grants);

    public static IReadOnlyList<Grant> DeserializeGrants(string json) => JsonSerializer.Deserialize<List<Grant>>(json) ?? [];
}

/// <summary>
/// Client secrets stored as <c>hmac-sha256$&lt;key id&gt;$&lt;salt&gt;$&lt;mac&gt;</c>: HMAC-SHA256 over salt and
/// secret under <c>Auth:SecretKey</c> (base64, at least 32 bytes; the same on every instance) or,
/// without one, under no key (key id <c>none</c>: a salted SHA-256). Server-made secrets carry 256
/// random bits, so a slow password hash buys nothing but a way to burn the server's CPU with wrong
/// secrets; verifying takes about a microsecond. Hashes of the older PBKDF2 form still verify, and
/// are replaced on their next successful use (<see cref="Verification.Upgrade"/>).
/// </summary>
public sealed class SecretHasher
{
    public const string Scheme = "hmac-sha256";
    private const string NoKey = "none";

    private readonly byte[] key;
    private readonly string keyId;

    public SecretHasher(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration["Auth:SecretKey"] is not { Length: > 0 } text)
        {
            (key, keyId) = ([], NoKey);
            return;
        }

        byte[]? parsed = null;
        try
        {
            parsed = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
        }

        if (parsed is not { Length: >= 32 })
        {
            throw new InvalidOperationException("Auth:SecretKey must be base64 of at least 32 bytes (e.g. openssl rand -base64 32).");
        }

        key = parsed;
        keyId = Convert.ToHexStringLower(SHA256.HashData(parsed))[..8];
    }

    /// <summary>How many PBKDF2 hashes this process has computed: only a stored hash of the older form costs one.</summary>
    public static long SlowHashesRun => Interlocked.Read(ref slowHashes);

    private static long slowHashes;

    /// <summary>How many secrets this instance has checked (<see cref="Verify"/> calls, stand-ins for unknown ids included).</summary>
    public long Verifications => Interlocked.Read(ref verifications);

    private long verifications;

    public string Hash(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var salt = RandomNumberGenerator.GetBytes(16);
        return $"{Scheme}${keyId}${Convert.ToBase64String(salt)}${Convert.ToBase64String(Mac(key, salt, secret))}";
    }

    public enum Verification
    {
        Refused,
        Accepted,

        /// <summary>Accepted, and the stored hash is of an older form or key: store <see cref="Hash"/> anew.</summary>
        Upgrade,
    }

    /// <summary>
    /// Checks <paramref name="secret"/> against a stored hash. For a client that does not exist, pass
    /// null: the same work is done against a stand-in, so that the answer's time does not tell whether
    /// the client id exists.
    /// </summary>
    public Verification Verify(string secret, string? stored)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Interlocked.Increment(ref verifications);
        var parts = (stored ?? StandIn).Split('$');
        if (parts is [Scheme, var id, var salt, var mac])
        {
            var macKey = id == keyId ? key : id == NoKey ? [] : null;
            if (macKey is null)
            {
                // Hashed under another Auth:SecretKey: that key is needed to check it.
                return Verification.Refused;
            }

            var ok = TryFromBase64(salt, out var saltBytes) & TryFromBase64(mac, out var expected)
                && CryptographicOperations.FixedTimeEquals(Mac(macKey, saltBytes, secret), expected) && stored is not null;
            return !ok ? Verification.Refused : id == keyId ? Verification.Accepted : Verification.Upgrade;
        }

        if (parts is ["pbkdf2-sha256", var iterations, var oldSalt, var hash]
            && int.TryParse(iterations, System.Globalization.CultureInfo.InvariantCulture, out var rounds)
            && TryFromBase64(oldSalt, out var oldSaltBytes) && TryFromBase64(hash, out var oldExpected))
        {
            Interlocked.Increment(ref slowHashes);
            var actual = Rfc2898DeriveBytes.Pbkdf2(secret, oldSaltBytes, rounds, HashAlgorithmName.SHA256, oldExpected.Length);
            return CryptographicOperations.FixedTimeEquals(actual, oldExpected) ? Verification.Upgrade : Verification.Refused;
        }

        return Verification.Refused;
    }

    private string StandIn => field ??= Hash(Secrets.NewSecret());

    private static byte[] Mac(byte[] key, byte[] salt, string secret)
    {
        var message = new byte[salt.Length + Encoding.UTF8.GetByteCount(secret)];
        salt.CopyTo(message, 0);
        Encoding.UTF8.GetBytes(secret, message.AsSpan(salt.Length));
        return HMACSHA256.HashData(key, message);
    }

    private static bool TryFromBase64(string text, out byte[] bytes)
    {
        bytes = new byte[(text.Length * 3 / 4) + 3];
        if (Convert.TryFromBase64String(text, bytes, out var written))
        {
            bytes = bytes[..written];
            return true;
        }

        bytes = [];
        return false;
    }
}

/// <summary>
/// Remembers, per client, the secret last verified (as a fast digest) and the client row it was
/// verified against, with its parsed grants. A request that presents that same secret within
/// <see cref="Lifetime"/> of the row's reading is answered from here without reading the row again;
/// any other request (another secret, an unknown id, a lapsed entry) reads the row, so a wrong
/// secret costs the same for a known id as for an unknown one. A change made through this
/// instance's admin API is forgotten at once (<see cref="Forget"/>); one made through another
/// instance takes effect here within <see cref="Lifetime"/>.
/// </summary>
public sealed class VerifiedSecretCache(TimeProvider time)
{
    /// <summary>How long a row read for a verified secret serves that secret's requests.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private long generation;

    private sealed record Entry(string Stamp, byte[] Digest, string GrantsJson, IReadOnlyList<Grant> Grants, long FreshUntil);

    /// <summary>Taken before the row is read: <see cref="Remember"/> keeps nothing read before a <see cref="Forget"/>.</summary>
    public long Generation => Interlocked.Read(ref generation);

    /// <summary>The grants of a client whose row was read for this very secret within <see cref="Lifetime"/>.</summary>
    public IReadOnlyList<Grant>? FreshGrants(string clientId, byte[] digest) =>
        entries.TryGetValue(clientId, out var entry) && time.GetTimestamp() < entry.FreshUntil && CryptographicOperations.FixedTimeEquals(entry.Digest, digest)
            ? entry.Grants
            : null;

    /// <summary>Whether this secret was verified against the row's current secret (same stamp): the hash need not run again.</summary>
    public bool IsKnown(string clientId, string stamp, byte[] digest) =>
        entries.TryGetValue(clientId, out var entry) && entry.Stamp == stamp && CryptographicOperations.FixedTimeEquals(entry.Digest, digest);

    /// <summary>Keeps the row just read for a verified secret; the grants are parsed once per change of them.</summary>
    public IReadOnlyList<Grant> Remember(string clientId, ClientCredentials row, byte[] digest, long readAt)
    {
        ArgumentNullException.ThrowIfNull(row);
        var grants = entries.TryGetValue(clientId, out var old) && string.Equals(old.GrantsJson, row.GrantsJson, StringComparison.Ordinal)
            ? old.Grants
            : Secrets.DeserializeGrants(row.GrantsJson);
        if (readAt == Generation)
        {
            entries[clientId] = new Entry(row.SecretStamp, digest, row.GrantsJson, grants, time.GetTimestamp() + (long)(Lifetime.TotalSeconds * time.TimestampFrequency));
        }

        return grants;
    }

    /// <summary>A client changed (grants, secret, revocation): its next request reads its row.</summary>
    public void Forget(string clientId)
    {
        Interlocked.Increment(ref generation);
        entries.TryRemove(clientId, out _);
    }
}

/// <summary>What authentication reads of a client that is not revoked.</summary>
public sealed record ClientCredentials(string SecretHash, string SecretStamp, string GrantsJson);

/// <summary>
/// Authenticates every <c>/api</c> request (client headers, or the admin key under <c>/api/admin</c>)
/// and checks the client's grants for the EMR and care unit in the path. Runs after routing.
/// </summary>
public sealed class AuthMiddleware(RequestDelegate next, VerifiedSecretCache cache, SecretHasher hasher, FailedAuthThrottle throttle, EmrCatalog emrs, IOptions<AdminOptions> admin, IOptions<SandboxOptions> sandbox, IHostEnvironment environment)
{
    private const string AuthFailed = "Authentication failed: send a valid x-leyr-client-id and x-leyr-client-secret.";
    private const string Throttled = "Too many failed authentications from this address or for this client id; retry after the seconds in Retry-After.";

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        // Before the credentials are looked at: a throttled address or client id costs no database
        // read and no hash. Only failures draw from its allowance.
        var address = FailedAuthThrottle.AddressOf(context);
        var adminPath = path.StartsWithSegments("/api/admin", StringComparison.OrdinalIgnoreCase);
        var id = adminPath ? null : ClientIdOf(context);
        if (throttle.Refusal(address, id) is { } wait)
        {
            await RateLimits.WriteAsync(context, wait, Throttled);
            return;
        }

        if (adminPath)
        {
            if (await AdminKeyAcceptedAsync(context, address))
            {
                await next(context);
            }

            return;
        }

        var client = await AuthenticateAsync(context);
        if (client is null)
        {
            throttle.Failed(address, id);
            await Problem.WriteAsync(context, 401, AuthFailed, [new ApiError(ErrorCodes.Unauthorized, AuthFailed, null)]);
            return;
        }

        context.Features.Set(client);
        if (context.GetRouteValue("emr") is string emr)
        {
            if (emrs.Find(emr) is null)
            {
                await Problem.WriteAsync(context, new VardbroException(ErrorCodes.NotFound, "No EMR with that code is configured; GET /api/emrs lists them.", "emr"));
                return;
            }

            var careUnit = context.GetRouteValue("care_unit_id") as string;
            if (!client.MayUse(emr) || (careUnit is not null && !client.MayUse(emr, careUnit)))
            {
                var what = careUnit is null ? "EMR" : "care unit";
                await Problem.WriteAsync(context, new VardbroException(ErrorCodes.Forbidden, $"This client is not granted that {what}.", careUnit is null ? "emr" : "care_unit_id"));
                return;
            }
        }

        await next(context);
    }

    /// <summary>The client id sent, when it is one that could exist (1–64 characters, none a control character).</summary>
    private static string? ClientIdOf(HttpContext context)
    {
        var id = context.Request.Headers["x-leyr-client-id"].ToString();
        return id.Length is 0 or > 64 || id.Any(char.IsControl) ? null : id;
    }

    private async Task<ClientContext?> AuthenticateAsync(HttpContext context)
    {
        var id = ClientIdOf(context);
        var secret = context.Request.Headers["x-leyr-client-secret"].ToString();
        if (id is null || secret.Length is 0 or > 256)
        {
            return null;
        }

        // The sandbox's well-known credentials stop working when the sandbox is turned off.
        if (id == Sandbox.SandboxSeeder.ClientId && !sandbox.Value.IsEnabled(environment))
        {
            return null;
        }

        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        if (cache.FreshGrants(id, digest) is { } fresh)
        {
            return new ClientContext(id, fresh);
        }

        var db = context.RequestServices.GetRequiredService<VardbroDb>();
        var readAt = cache.Generation;
        var row = db.CanPrepare ? await ReadClientAsync(db, id, context.RequestAborted) : await ReadClient(db, id, context.RequestAborted);
        if (row is null)
        {
            // An unknown id costs what a known one with a wrong secret does.
            _ = hasher.Verify(secret, null);
            return null;
        }

        if (!cache.IsKnown(id, row.SecretStamp, digest))
        {
            var verification = hasher.Verify(secret, row.SecretHash);
            if (verification == SecretHasher.Verification.Refused)
            {
                return null;
            }

            if (verification == SecretHasher.Verification.Upgrade)
            {
                // Only where the row still holds the hash just checked: a rotation in between wins.
                await db.Clients.Where(c => c.Id == id && c.SecretHash == row.SecretHash)
                    .ExecuteUpdateAsync(c => c.SetProperty(x => x.SecretHash, hasher.Hash(secret)), context.RequestAborted);
            }
        }

        return new ClientContext(id, cache.Remember(id, row, digest, readAt));
    }

    private static async Task<ClientCredentials?> ReadClientAsync(VardbroDb db, string id, CancellationToken cancellationToken)
    {
        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);
        await using var reader = await PreparedStatements.For(db, """
            SELECT "SecretHash", "SecretStamp", "GrantsJson" FROM "clients" WHERE "Id" = @p0 AND "RevokedAt" IS NULL LIMIT 1
            """, id).ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ClientCredentials(reader.GetString(0), reader.GetString(1), reader.GetString(2))
            : null;
    }

    // Read on every request: compiled once rather than translated from LINQ each time.
    private static readonly Func<VardbroDb, string, CancellationToken, Task<ClientCredentials?>> ReadClient =
        EF.CompileAsyncQuery((VardbroDb db, string id, CancellationToken _) => db.Clients.AsNoTracking()
            .Where(c => c.Id == id && c.RevokedAt == null)
            .Select(c => new ClientCredentials(c.SecretHash, c.SecretStamp, c.GrantsJson))
            .FirstOrDefault());

    private async Task<bool> AdminKeyAcceptedAsync(HttpContext context, string address)
    {
        var configured = admin.Value.Key;
        if (string.IsNullOrEmpty(configured))
        {
            await Problem.WriteAsync(context, 404, "The admin API is off: no admin key is configured (Admin:Key).", [new ApiError(ErrorCodes.NotFound, "The admin API is off.", "path")]);
            return false;
        }

        var presented = context.Request.Headers["x-admin-key"].ToString();
        var ok = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
        if (!ok)
        {
            throttle.Failed(address, null);
            const string detail = "Authentication failed: send the configured admin key in x-admin-key.";
            await Problem.WriteAsync(context, 401, detail, [new ApiError(ErrorCodes.Unauthorized, detail, null)]);
        }

        return ok;
    }
}

/// <summary><c>Admin:*</c>: <c>Key</c> turns the admin API on; unset, <c>/api/admin</c> answers 404.</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    public string? Key { get; set; }
}

/// <summary>Gives every response an <c>x-request-id</c> (a UUID), which errors repeat as <c>instance</c>.</summary>
public sealed class RequestIdMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var id = Guid.NewGuid().ToString();
        context.TraceIdentifier = id;

        // The request's trace carries its x-request-id, so either finds the other.
        System.Diagnostics.Activity.Current?.SetTag("vardbro.request_id", id);

        // Set when the response starts, so that the exception handler clearing the response keeps it.
        context.Response.OnStarting(() =>
        {
            context.Response.Headers["x-request-id"] = id;
            return Task.CompletedTask;
        });
        return next(context);
    }
}
