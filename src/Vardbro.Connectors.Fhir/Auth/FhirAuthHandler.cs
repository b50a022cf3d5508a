using System.Net;
using System.Net.Http.Headers;

namespace Vardbro.Connectors.Fhir.Auth;

/// <summary>
/// Authenticates requests to an EMR's FHIR server as <see cref="FhirAuthSettings"/> say. In the OAuth
/// modes a 401 to a request made with a cached token makes it fetch a new token and send the request
/// once more: the server did not process the first one, so this is safe for any method.
/// </summary>
public sealed class FhirAuthHandler : DelegatingHandler
{
    private readonly string _mode;
    private readonly AuthenticationHeaderValue? _staticToken;
    private readonly FhirTokenSource? _tokens;

    /// <param name="settings">Must pass <see cref="FhirAuthSettings.Validate"/>.</param>
    /// <param name="tokenTransport">
    /// Carries the token requests of modes <c>client_credentials</c> and <c>smart_backend</c>; give it a
    /// timeout. Not disposed by the handler. May be null in the other modes.
    /// </param>
    /// <param name="timeProvider">The clock for token expiry and client assertions.</param>
    /// <exception cref="ArgumentException">The settings are invalid, or an OAuth mode lacks a token transport.</exception>
    public FhirAuthHandler(FhirAuthSettings settings, HttpMessageInvoker? tokenTransport, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var problems = FhirAuthSettings.Validate(settings, "Auth");
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(settings));
        }

        _mode = settings.CanonicalMode!;
        switch (_mode)
        {
            case FhirAuthModes.Bearer:
                _staticToken = new AuthenticationHeaderValue("Bearer", settings.Token);
                break;
            case FhirAuthModes.ClientCredentials or FhirAuthModes.SmartBackend:
                if (tokenTransport is null)
                {
                    throw new ArgumentException($"Mode {_mode} needs a transport for token requests", nameof(tokenTransport));
                }

                _tokens = new FhirTokenSource(settings, tokenTransport, timeProvider);
                break;
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_tokens is null)
        {
            if (_staticToken is not null)
            {
                request.Headers.Authorization = _staticToken;
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (request.Content is not null)
        {
            await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        var token = await _tokens.GetAsync(rejected: null, cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !token.FromCache)
        {
            return response;
        }

        response.Dispose();
        var fresh = await _tokens.GetAsync(rejected: token.Value, cancellationToken).ConfigureAwait(false);
        var resend = await CloneAsync(request, cancellationToken).ConfigureAwait(false);
        resend.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fresh.Value);
        return await base.SendAsync(resend, cancellationToken).ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _tokens?.Dispose();
        }

        base.Dispose(disposing);
    }

    private static async Task<HttpRequestMessage> CloneAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var clone = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var header in request.Headers)
        {
            clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        foreach (var option in request.Options)
        {
            ((IDictionary<string, object?>)clone.Options)[option.Key] = option.Value;
        }

        if (request.Content is not null)
        {
            var body = await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            clone.Content = new ByteArrayContent(body);
            foreach (var header in request.Content.Headers)
            {
                clone.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        return clone;
    }
}
