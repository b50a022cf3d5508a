using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// The <c>Idempotency-Key</c> of API.md §1, for every POST under <c>/api</c>. Runs after authentication
/// (so 401/403 are never stored), scoped to the client (or <c>admin</c> under <c>/api/admin</c>).
/// The first request with a key inserts an in-progress row and runs; its response (status, content
/// type, <c>Location</c>, body bytes) is stored unless it is a 5xx, which deletes the row so that a
/// retry runs afresh. A 4xx that an exception becomes is stored too, once the exception handler has
/// written it. A later request with the key and the same method, path, query and body gets that
/// response replayed (with <c>Idempotent-Replayed: true</c> and its own <c>x-request-id</c>), waiting
/// for it while the first still runs (409 if it still runs after <see cref="MaxWait"/>); with anything
/// else it gets 422 <c>IDEMPOTENCY_KEY_REUSED</c>. The insert is the lock: the table's primary key lets
/// one request win, on every instance that shares the database.
/// </summary>
public sealed partial class IdempotencyMiddleware(RequestDelegate next, IdempotencyStore store, TimeProvider time, ILogger<IdempotencyMiddleware> logger)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>The scope of keys sent to <c>/api/admin</c>, which has no client.</summary>
    public const string AdminScope = "admin";

    public const int MaxKeyLength = 255;

    /// <summary>Older records count as absent (and are purged).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    /// <summary>An in-progress record this old belongs to a request that died; a retry takes it over.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromMinutes(2);

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a retry waits for the first request before answering 409.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    private const int MaxLostInserts = 5;
    private const int MaxContentTypeLength = 128;
    private const int MaxLocationLength = 2048;

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method)
            || !request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
            || !request.Headers.TryGetValue(HeaderName, out var values))
        {
            await next(context);
            return;
        }

        var scope = request.Path.StartsWithSegments("/api/admin", StringComparison.OrdinalIgnoreCase)
            ? AdminScope
            : context.Features.Get<ClientContext>()?.ClientId;
        if (scope is null)
        {
            await next(context);
            return;
        }

        if (values.Count != 1 || !IsValidKey(values[0]))
        {
            const string detail = "Idempotency-Key must be one value of 1–255 printable ASCII characters.";
            await Problem.WriteAsync(context, 400, detail, [new ApiError(ErrorCodes.InvalidField, detail, HeaderName)]);
            return;
        }

        var fingerprint = await RequestFingerprint.OfAsync(request, context.RequestAborted);
        await RunAsync(context, scope, values[0]!, fingerprint);
    }

    public static bool IsValidKey(string? key) =>
        key is { Length: > 0 and <= MaxKeyLength } && !string.IsNullOrWhiteSpace(key) && key.All(c => c is >= ' ' and <= '~');

    private async Task RunAsync(HttpContext context, string scope, string key, string fingerprint)
    {
        var aborted = context.RequestAborted;
        var waiting = Stopwatch.StartNew();
        var tryInsert = true;
        var lostInserts = 0;
        while (true)
        {
            if (tryInsert)
            {
                var createdAt = Now();
                if (await store.TryInsertAsync(scope, key, fingerprint, createdAt, aborted))
                {
                    await RunFirstAsync(context, scope, key, createdAt);
                    return;
                }
            }

            var row = await store.FindAsync(scope, key, aborted);
            if (row is null)
            {
                // The first request failed with a 5xx (its row is gone): take over. An insert that failed
                // with no row in its way is a database problem, which is retried a few times only.
                if (tryInsert && ++lostInserts > MaxLostInserts)
                {
                    throw new InvalidOperationException("The idempotency record could not be stored.");
                }

                tryInsert = true;
                continue;
            }

            var now = time.GetUtcNow();
            var expired = row.CreatedAt <= now - Retention;
            if (expired || (row.StatusCode is null && row.CreatedAt <= now - AbandonedAfter))
            {
                if (!expired)
                {
                    LogTakingOver(logger, scope, context.TraceIdentifier);
                }

                await store.DeleteAsync(scope, key, row.CreatedAt, onlyInProgress: row.StatusCode is null, aborted);
                tryInsert = true;
                continue;
            }

            if (!string.Equals(row.RequestHash, fingerprint, StringComparison.Ordinal))
            {
                const string detail = "This Idempotency-Key was already used with a different request; use a new key for a new request.";
                await Problem.WriteAsync(context, 422, detail, [new ApiError(ErrorCodes.IdempotencyKeyReused, detail, HeaderName)]);
                return;
            }

            if (row.StatusCode is { } status)
            {
                await ReplayAsync(context, row, status);
                return;
            }

            if (waiting.Elapsed >= MaxWait)
            {
                const string detail = "The first request with this Idempotency-Key is still running; retry later to get its response.";
                await Problem.WriteAsync(context, 409, detail, [new ApiError(ErrorCodes.IdempotencyKeyReused, detail, HeaderName)]);
                return;
            }

            tryInsert = false;
            await Task.Delay(PollInterval, aborted);
        }
    }

    /// <summary>Runs the rest of the pipeline with the response captured, then stores it (below 500) and sends it.</summary>
    private async Task RunFirstAsync(HttpContext context, string scope, string key, DateTimeOffset createdAt)
    {
        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        using var buffer = new MemoryStream();
        var capture = new StreamResponseBodyFeature(buffer, original);
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await next(context);
            await capture.CompleteAsync();
        }
        catch (Exception ex)
        {
            // The exception handler answers. A refusal it turns into a 4xx (most of this API's 4xx are
            // thrown) is kept like any other 4xx: copied on its way out, stored once it is sent. For what
            // becomes a 5xx the record goes now, so that a retry runs afresh.
            context.Features.Set(original);
            if (Problem.StatusOf(ex) < 500 && !context.RequestAborted.IsCancellationRequested)
            {
                StoreWhatTheExceptionHandlerWrites(context, scope, key, createdAt, original);
            }
            else
            {
                await ForgetAsync(scope, key, createdAt, context.TraceIdentifier);
            }

            throw;
        }

        context.Features.Set(original);
        var response = context.Response;
        var status = response.StatusCode;
        if (status >= 500)
        {
            await ForgetAsync(scope, key, createdAt, context.TraceIdentifier);
        }
        else
        {
            await StoreAsync(context, scope, key, createdAt, status, buffer);
        }

        if (buffer.Length > 0)
        {
            await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        }
    }

    private void StoreWhatTheExceptionHandlerWrites(HttpContext context, string scope, string key, DateTimeOffset createdAt, IHttpResponseBodyFeature original)
    {
        var copy = new MemoryStream();
        context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(new TeeStream(original.Stream, copy), original));
        context.Response.OnCompleted(async () =>
        {
            await using (copy)
            {
                if (context.Response.StatusCode >= 500)
                {
                    await ForgetAsync(scope, key, createdAt, context.TraceIdentifier);
                }
                else
                {
                    await StoreAsync(context, scope, key, createdAt, context.Response.StatusCode, copy);
                }
            }
        });
    }

    private async Task StoreAsync(HttpContext context, string scope, string key, DateTimeOffset createdAt, int status, MemoryStream buffer)
    {
        var response = context.Response;
        var contentType = response.ContentType;
        var location = response.Headers.Location.Count > 0 ? response.Headers.Location.ToString() : null;
        if (contentType?.Length > MaxContentTypeLength || location?.Length > MaxLocationLength)
        {
            LogNotStorable(logger, scope, context.TraceIdentifier);
            await ForgetAsync(scope, key, createdAt, context.TraceIdentifier);
            return;
        }

        // A secret shown once is not kept in the database; the key still stops the request running twice.
        var body = IsSecretResponse(context, status) ? null : buffer.ToArray();
        try
        {
            // Not the request's token: what the endpoint did is done, so a retry must find it even if this client left.
            if (!await store.CompleteAsync(scope, key, createdAt, status, contentType, location, body, CancellationToken.None))
            {
                LogRecordTakenOver(logger, scope, context.TraceIdentifier);
            }
        }
#pragma warning disable CA1031 // the response is sent whatever happens to its record
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogStoreFailed(logger, scope, context.TraceIdentifier, ex);
            await ForgetAsync(scope, key, createdAt, context.TraceIdentifier);
        }
    }

    private async Task ForgetAsync(string scope, string key, DateTimeOffset createdAt, string requestId)
    {
        try
        {
            await store.DeleteAsync(scope, key, createdAt, onlyInProgress: true, CancellationToken.None);
        }
#pragma warning disable CA1031 // the original outcome matters more; the row is taken over after AbandonedAfter
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogForgetFailed(logger, scope, requestId, ex);
        }
    }

    private static async Task ReplayAsync(HttpContext context, IdempotencyRow row, int status)
    {
        if (row.Body is null && IsSecretResponse(context, status))
        {
            const string detail = "The request with this Idempotency-Key already succeeded; its response held a secret that is shown only once.";
            await Problem.WriteAsync(context, 409, detail, [new ApiError(ErrorCodes.IdempotencyKeyReused, detail, HeaderName)]);
            return;
        }

        var response = context.Response;
        response.StatusCode = status;
        if (row.ContentType is not null)
        {
            response.ContentType = row.ContentType;
        }

        if (row.Location is not null)
        {
            response.Headers.Location = row.Location;
        }

        response.Headers[ReplayedHeader] = "true";
        if (row.Body is { Length: > 0 } body)
        {
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    private static bool IsSecretResponse(HttpContext context, int status) =>
        status is >= 200 and < 300 && context.GetEndpoint()?.Metadata.GetMetadata<SecretResponseAttribute>() is not null;

    /// <summary>Now, to the millisecond: what both providers store exactly, so the row can be named by it.</summary>
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking over an abandoned idempotency record of client {ClientId} in request {RequestId}")]
    private static partial void LogTakingOver(ILogger logger, string clientId, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The idempotency record of client {ClientId} in request {RequestId} was taken over before it was completed")]
    private static partial void LogRecordTakenOver(ILogger logger, string clientId, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The response of request {RequestId} (client {ClientId}) has headers too long to store for its idempotency key")]
    private static partial void LogNotStorable(ILogger logger, string clientId, string requestId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing the idempotent response of client {ClientId} in request {RequestId} failed")]
    private static partial void LogStoreFailed(ILogger logger, string clientId, string requestId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Removing the idempotency record of client {ClientId} in request {RequestId} failed")]
    private static partial void LogForgetFailed(ILogger logger, string clientId, string requestId, Exception exception);
}
