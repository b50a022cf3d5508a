using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Vardbro.Connectors.Fhir.Auth;

/// <summary>An access token and whether it came from the cache rather than a token request made for this caller.</summary>
internal readonly record struct FhirAccessToken(string Value, bool FromCache);

/// <summary>
/// Obtains and caches the access token of the OAuth modes. Concurrent callers without a usable token
/// share one token request; its outcome, success or failure, goes to all of them.
/// </summary>
internal sealed partial class FhirTokenSource : IDisposable
{
    internal const string ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromSeconds(300);
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(1);
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    private readonly FhirAuthSettings _settings;
    private readonly HttpMessageInvoker _transport;
    private readonly TimeProvider _time;
    private readonly Uri _tokenUri;
    private readonly FhirClientAssertion? _assertion;
    private readonly Lock _gate = new();
    private CachedToken? _cached;
    private Task<CachedToken>? _inflight;

    public FhirTokenSource(FhirAuthSettings settings, HttpMessageInvoker transport, TimeProvider time)
    {
        _settings = settings;
        _transport = transport;
        _time = time;
        _tokenUri = new Uri(settings.TokenUrl!, UriKind.Absolute);
        if (settings.CanonicalMode == FhirAuthModes.SmartBackend)
        {
            _assertion = new FhirClientAssertion(settings, time);
        }
    }

    /// <summary>
    /// A token to use now. <paramref name="rejected"/> is a token the FHIR server has just refused:
    /// it is not handed out again.
    /// </summary>
    public async Task<FhirAccessToken> GetAsync(string? rejected, CancellationToken cancellationToken)
    {
        TaskCompletionSource<CachedToken>? owner = null;
        Task<CachedToken> shared;
        lock (_gate)
        {
            if (_cached is { } cached && cached.Value != rejected && _time.GetUtcNow() < cached.RefreshAt)
            {
                return new FhirAccessToken(cached.Value, FromCache: true);
            }

            _cached = null;
            if (_inflight is null)
            {
                owner = new TaskCompletionSource<CachedToken>(TaskCreationOptions.RunContinuationsAsynchronously);
                _inflight = owner.Task;
            }

            shared = _inflight;
        }

        if (owner is not null)
        {
            _ = FetchForAllAsync(owner);
        }

        var token = await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new FhirAccessToken(token.Value, FromCache: false);
    }

    public void Dispose() => _assertion?.Dispose();

    private async Task FetchForAllAsync(TaskCompletionSource<CachedToken> owner)
    {
        try
        {
            var token = await FetchAsync().ConfigureAwait(false);
            lock (_gate)
            {
                _cached = token;
                _inflight = null;
            }

            owner.SetResult(token);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _inflight = null;
            }

            owner.SetException(e);
        }
    }

    // Not cancellable by any one caller: others may be waiting for it. The transport's timeout bounds it.
    private async Task<CachedToken> FetchAsync()
    {
        using var request = BuildRequest();
        HttpResponseMessage response;
        string body;
        try
        {
            response = await _transport.SendAsync(request, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            throw new EmrUnavailableException("The EMR's token endpoint did not answer in time.", e) { TimedOut = true };
        }
        catch (HttpRequestException e)
        {
            throw new EmrUnavailableException("The EMR's token endpoint could not be reached.", e);
        }

        using (response)
        {
            try
            {
                body = await response.Content.ReadAsStringAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                throw new EmrUnavailableException("The EMR's token endpoint did not answer in time.", e) { TimedOut = true };
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                throw new EmrUnavailableException("The EMR's token endpoint broke off its answer.", e);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw Refusal(response.StatusCode, body);
            }
        }

        return Parse(body);
    }

    private HttpRequestMessage BuildRequest()
    {
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        if (!string.IsNullOrWhiteSpace(_settings.Scope))
        {
            form.Add(new("scope", _settings.Scope));
        }

        var request = new HttpRequestMessage(HttpMethod.Post, _tokenUri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_assertion is not null)
        {
            form.Add(new("client_assertion_type", ClientAssertionType));
            form.Add(new("client_assertion", _assertion.Create()));
        }
        else if (_settings.PostsClientSecret)
        {
            form.Add(new("client_id", _settings.ClientId!));
            form.Add(new("client_secret", _settings.ClientSecret!));
        }
        else
        {
            var credentials = $"{FormEncode(_settings.ClientId!)}:{FormEncode(_settings.ClientSecret!)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        }

        request.Content = new FormUrlEncodedContent(form);
        return request;
    }

    private CachedToken Parse(string body)
    {
        string? accessToken = null;
        string? tokenType = null;
        double? expiresIn = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "access_token" when property.Value.ValueKind == JsonValueKind.String:
                            accessToken = property.Value.GetString();
                            break;
                        case "token_type" when property.Value.ValueKind == JsonValueKind.String:
                            tokenType = property.Value.GetString();
                            break;
                        case "expires_in" when property.Value.ValueKind == JsonValueKind.Number:
                            expiresIn = property.Value.GetDouble();
                            break;
                        case "expires_in" when property.Value.ValueKind == JsonValueKind.String
                            && double.TryParse(property.Value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds):
                            expiresIn = seconds;
                            break;
                    }
                }
            }
        }
        catch (JsonException e)
        {
            throw new EmrBadAnswerException("The EMR's token endpoint answered with something that is not JSON.", e);
        }

        if (string.IsNullOrWhiteSpace(accessToken))
        {
            throw new EmrBadAnswerException("The EMR's token endpoint answered without an access_token.");
        }

        if (tokenType is not null && !tokenType.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new EmrBadAnswerException("The EMR's token endpoint issued a token that is not a Bearer token.");
        }

        var lifetime = expiresIn is > 0 and var s
            ? TimeSpan.FromSeconds(Math.Min(s, MaxLifetime.TotalSeconds))
            : DefaultLifetime;
        var margin = lifetime / 10 < RefreshMargin ? lifetime / 10 : RefreshMargin;
        return new CachedToken(accessToken, _time.GetUtcNow() + lifetime - margin);
    }

    private static Exception Refusal(HttpStatusCode status, string body)
    {
        var code = (int)status;
        if (status is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
        {
            return new EmrUnavailableException($"The EMR's token endpoint is unavailable (HTTP {code}).")
            {
                TimedOut = status == HttpStatusCode.GatewayTimeout,
            };
        }

        var error = OAuthError(body);
        var detail = error is null ? $"HTTP {code}" : $"HTTP {code}, {error}";
        return code is >= 400 and < 500
            ? new EmrBadAnswerException($"The EMR's token endpoint refused Vardbro's credentials ({detail}).")
            : new EmrBadAnswerException($"The EMR's token endpoint failed ({detail}).");
    }

    /// <summary>The OAuth <c>error</c> code of a refusal, when it looks like one. Free text is never quoted.</summary>
    private static string? OAuthError(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.String
                && error.GetString() is { } value
                && ErrorCodePattern().IsMatch(value)
                    ? value
                    : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The <c>application/x-www-form-urlencoded</c> encoding RFC 6749 §2.3.1 asks for, as <see cref="FormUrlEncodedContent"/> does it.</summary>
    internal static string FormEncode(string value) =>
        Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal);

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex ErrorCodePattern();

    private sealed record CachedToken(string Value, DateTimeOffset RefreshAt);
}

/// <summary>The signed JWT of SMART Backend Services (RFC 7523) that authenticates the client.</summary>
internal sealed class FhirClientAssertion : IDisposable
{
    /// <summary>Epic refuses assertions that expire more than five minutes ahead; one minute is left for clock skew.</summary>
    internal static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(4);

    private readonly FhirAuthSettings _settings;
    private readonly TimeProvider _time;
    private readonly AsymmetricAlgorithm _key;
    private readonly string _algorithm;

    public FhirClientAssertion(FhirAuthSettings settings, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        _algorithm = settings.CanonicalAlgorithm!;
        _key = settings.LoadSigningKey();
    }

    public string Create()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var header = Json(writer =>
        {
            writer.WriteString("alg", _algorithm);
            writer.WriteString("typ", "JWT");
            if (!string.IsNullOrWhiteSpace(_settings.KeyId))
            {
                writer.WriteString("kid", _settings.KeyId);
            }
        });
        var claims = Json(writer =>
        {
            writer.WriteString("iss", _settings.ClientId);
            writer.WriteString("sub", _settings.ClientId);
            writer.WriteString("aud", _settings.TokenUrl);
            writer.WriteString("jti", Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24)));
            writer.WriteNumber("iat", now);
            writer.WriteNumber("exp", now + (long)Lifetime.TotalSeconds);
        });
        var signingInput = $"{Base64Url.EncodeToString(header)}.{Base64Url.EncodeToString(claims)}";
        var data = Encoding.ASCII.GetBytes(signingInput);
        var signature = _key switch
        {
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
            ECDsa ecdsa => ecdsa.SignData(data, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            _ => throw new InvalidOperationException("Unsupported signing key"),
        };
        return $"{signingInput}.{Base64Url.EncodeToString(signature)}";
    }

    public void Dispose() => _key.Dispose();

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }
}
