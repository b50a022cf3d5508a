using System.Security.Cryptography;

namespace Vardbro.Connectors.Fhir.Auth;

/// <summary>The values of <see cref="FhirAuthSettings.Mode"/>. Matched case-insensitively.</summary>
public static class FhirAuthModes
{
    public const string None = "none";
    public const string Bearer = "bearer";
    public const string ClientCredentials = "client_credentials";
    public const string SmartBackend = "smart_backend";

    internal static readonly string[] All = [None, Bearer, ClientCredentials, SmartBackend];
}

/// <summary>
/// How Vardbro authenticates to an EMR's FHIR server. Built from configuration with
/// <see cref="FromLookup"/> and checked with <see cref="Validate"/> before use.
/// </summary>
public sealed record FhirAuthSettings
{
    public const string ClientAuthenticationBasic = "basic";
    public const string ClientAuthenticationPost = "post";
    public const string AlgorithmRs384 = "RS384";
    public const string AlgorithmEs384 = "ES384";

    private static readonly string[] ClientAuthentications = [ClientAuthenticationBasic, ClientAuthenticationPost];
    private static readonly string[] Algorithms = [AlgorithmRs384, AlgorithmEs384];

    /// <summary>One of <see cref="FhirAuthModes"/>.</summary>
    public string Mode { get; init; } = FhirAuthModes.None;

    /// <summary>The static token of mode <c>bearer</c>.</summary>
    public string? Token { get; init; }

    /// <summary>The OAuth2 token endpoint; also the <c>aud</c> of a SMART client assertion, exactly as written.</summary>
    public string? TokenUrl { get; init; }

    public string? ClientId { get; init; }

    public string? ClientSecret { get; init; }

    public string? Scope { get; init; }

    /// <summary><c>basic</c> (HTTP Basic, the default) or <c>post</c> (client_id and client_secret in the form).</summary>
    public string ClientAuthentication { get; init; } = ClientAuthenticationBasic;

    public string? PrivateKeyPem { get; init; }

    public string? PrivateKeyPath { get; init; }

    /// <summary><c>RS384</c> (the default) or <c>ES384</c>.</summary>
    public string Algorithm { get; init; } = AlgorithmRs384;

    public string? KeyId { get; init; }

    /// <summary>The canonical mode name, or null when <see cref="Mode"/> is not one.</summary>
    internal string? CanonicalMode => Canonical(Mode, FhirAuthModes.All);

    internal string? CanonicalAlgorithm => Canonical(Algorithm, Algorithms);

    internal bool PostsClientSecret =>
        Canonical(ClientAuthentication, ClientAuthentications) == ClientAuthenticationPost;

    /// <summary>
    /// Reads the settings through a key lookup such as <c>key =&gt; section[key]</c>. Blank values
    /// count as absent; a missing <c>Mode</c> means <c>none</c>.
    /// </summary>
    public static FhirAuthSettings FromLookup(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        string? Read(string key) => string.IsNullOrWhiteSpace(lookup(key)) ? null : lookup(key)!.Trim();

        var mode = Read(nameof(Mode)) ?? FhirAuthModes.None;
        var algorithm = Read(nameof(Algorithm)) ?? AlgorithmRs384;
        var clientAuthentication = Read(nameof(ClientAuthentication)) ?? ClientAuthenticationBasic;
        return new FhirAuthSettings
        {
            Mode = Canonical(mode, FhirAuthModes.All) ?? mode,
            Token = Read(nameof(Token)),
            TokenUrl = Read(nameof(TokenUrl)),
            ClientId = Read(nameof(ClientId)),
            ClientSecret = Read(nameof(ClientSecret)),
            Scope = Read(nameof(Scope)),
            ClientAuthentication = Canonical(clientAuthentication, ClientAuthentications) ?? clientAuthentication,
            PrivateKeyPem = Read(nameof(PrivateKeyPem)),
            PrivateKeyPath = Read(nameof(PrivateKeyPath)),
            Algorithm = Canonical(algorithm, Algorithms) ?? algorithm,
            KeyId = Read(nameof(KeyId)),
        };
    }

    /// <summary>
    /// The problems with <paramref name="settings"/>, one sentence each, naming the configuration key
    /// under <paramref name="keyPrefix"/> (e.g. <c>Emrs:epic:Auth</c>). Empty when the settings are usable.
    /// Never quotes a secret. Loads the private key of mode <c>smart_backend</c> to check it.
    /// </summary>
    public static IReadOnlyList<string> Validate(FhirAuthSettings settings, string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var problems = new List<string>();
        void Require(string? value, string key, string mode)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"{keyPrefix}:{key} is required for {mode}");
            }
        }

        switch (settings.CanonicalMode)
        {
            case FhirAuthModes.None:
                break;
            case FhirAuthModes.Bearer:
                Require(settings.Token, nameof(Token), FhirAuthModes.Bearer);
                break;
            case FhirAuthModes.ClientCredentials:
                ValidateTokenUrl(settings.TokenUrl, keyPrefix, FhirAuthModes.ClientCredentials, problems);
                Require(settings.ClientId, nameof(ClientId), FhirAuthModes.ClientCredentials);
                Require(settings.ClientSecret, nameof(ClientSecret), FhirAuthModes.ClientCredentials);
                if (Canonical(settings.ClientAuthentication, ClientAuthentications) is null)
                {
                    problems.Add($"{keyPrefix}:ClientAuthentication must be '{ClientAuthenticationBasic}' or '{ClientAuthenticationPost}', not '{settings.ClientAuthentication}'");
                }

                break;
            case FhirAuthModes.SmartBackend:
                ValidateTokenUrl(settings.TokenUrl, keyPrefix, FhirAuthModes.SmartBackend, problems);
                Require(settings.ClientId, nameof(ClientId), FhirAuthModes.SmartBackend);
                Require(settings.Scope, nameof(Scope), FhirAuthModes.SmartBackend);
                ValidateKey(settings, keyPrefix, problems);
                break;
            default:
                problems.Add($"{keyPrefix}:Mode '{settings.Mode}' is not one of {string.Join(", ", FhirAuthModes.All)}");
                break;
        }

        return problems;
    }

    public override string ToString() =>
        $"FhirAuthSettings {{ Mode = {Mode}, TokenUrl = {TokenUrl}, ClientId = {ClientId}, Scope = {Scope}, " +
        $"ClientAuthentication = {ClientAuthentication}, Algorithm = {Algorithm}, KeyId = {KeyId}, " +
        $"PrivateKeyPath = {PrivateKeyPath}, Token = {Redacted(Token)}, ClientSecret = {Redacted(ClientSecret)}, " +
        $"PrivateKeyPem = {Redacted(PrivateKeyPem)} }}";

    /// <summary>Loads the signing key of mode <c>smart_backend</c>: an RSA key for RS384, a P-384 key for ES384.</summary>
    /// <exception cref="InvalidOperationException">The key cannot be read or does not fit the algorithm; the message names the problem, never the key.</exception>
    internal AsymmetricAlgorithm LoadSigningKey()
    {
        var algorithm = CanonicalAlgorithm
            ?? throw new InvalidOperationException($"Algorithm '{Algorithm}' is not one of {string.Join(", ", Algorithms)}");
        string pem;
        if (!string.IsNullOrWhiteSpace(PrivateKeyPem))
        {
            pem = PrivateKeyPem.Contains('\n', StringComparison.Ordinal)
                ? PrivateKeyPem
                : PrivateKeyPem.Replace("\\n", "\n", StringComparison.Ordinal); // one-line PEM from an environment variable
        }
        else if (!string.IsNullOrWhiteSpace(PrivateKeyPath))
        {
            try
            {
                pem = File.ReadAllText(PrivateKeyPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new InvalidOperationException($"the file '{PrivateKeyPath}' cannot be read ({e.GetType().Name})", e);
            }
        }
        else
        {
            throw new InvalidOperationException("no private key is configured");
        }

        if (pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("encrypted private keys are not supported");
        }

        AsymmetricAlgorithm key = algorithm == AlgorithmRs384 ? RSA.Create() : ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            switch (key)
            {
                case RSA rsa:
                    _ = rsa.ExportParameters(includePrivateParameters: true);
                    if (rsa.KeySize < 2048)
                    {
                        throw new InvalidOperationException($"the RSA key has {rsa.KeySize} bits; RS384 needs at least 2048");
                    }

                    break;
                case ECDsa ecdsa:
                    _ = ecdsa.ExportParameters(includePrivateParameters: true);
                    if (ecdsa.KeySize != 384)
                    {
                        throw new InvalidOperationException($"the EC key is on a {ecdsa.KeySize}-bit curve; ES384 needs P-384");
                    }

                    break;
            }

            return key;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new InvalidOperationException(
                $"it is not a PEM private key (PKCS#8, PKCS#1 or SEC1) of the kind {algorithm} needs ({(algorithm == AlgorithmRs384 ? "RSA" : "EC P-384")})", e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static void ValidateTokenUrl(string? tokenUrl, string keyPrefix, string mode, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(tokenUrl))
        {
            problems.Add($"{keyPrefix}:TokenUrl is required for {mode}");
        }
        else if (!Uri.TryCreate(tokenUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            problems.Add($"{keyPrefix}:TokenUrl must be an absolute http(s) URL");
        }
    }

    private static void ValidateKey(FhirAuthSettings settings, string keyPrefix, List<string> problems)
    {
        var hasPem = !string.IsNullOrWhiteSpace(settings.PrivateKeyPem);
        var hasPath = !string.IsNullOrWhiteSpace(settings.PrivateKeyPath);
        if (settings.CanonicalAlgorithm is null)
        {
            problems.Add($"{keyPrefix}:Algorithm '{settings.Algorithm}' is not one of {string.Join(", ", Algorithms)}");
            return;
        }

        if (hasPem == hasPath)
        {
            problems.Add(hasPem
                ? $"{keyPrefix}:PrivateKeyPem and {keyPrefix}:PrivateKeyPath are both set; set only one"
                : $"{keyPrefix}:PrivateKeyPem or {keyPrefix}:PrivateKeyPath is required for {FhirAuthModes.SmartBackend}");
            return;
        }

        try
        {
            settings.LoadSigningKey().Dispose();
        }
        catch (InvalidOperationException e)
        {
            problems.Add($"{keyPrefix}:{(hasPem ? nameof(PrivateKeyPem) : nameof(PrivateKeyPath))} is unusable: {e.Message}");
        }
    }

    private static string? Canonical(string? value, string[] known)
    {
        var trimmed = value?.Trim();
        return Array.Find(known, k => string.Equals(k, trimmed, StringComparison.OrdinalIgnoreCase));
    }

    private static string? Redacted(string? secret) => secret is null ? null : "***";
}
