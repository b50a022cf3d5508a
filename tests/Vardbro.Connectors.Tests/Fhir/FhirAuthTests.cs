using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Web;
using Microsoft.Extensions.Time.Testing;
using Vardbro.Connectors.Fhir.Auth;

namespace Vardbro.Connectors.Tests.Fhir;

public sealed class FhirAuthTests : IDisposable
{
    private const string TokenUrl = "https://emr.example/oauth2/token";
    private const string FhirBase = "https://emr.example/fhir/";
    private const string Prefix = "Emrs:test:Auth";

    private static readonly RSA Rsa = RSA.Create(2048);
    private static readonly ECDsa Ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 25, 8, 0, 0, TimeSpan.Zero));
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }
    }

    [Fact]
    public async Task NoneAddsNoAuthorizationHeader()
    {
        var fhir = Ok();
        var client = Client(new FhirAuthSettings { Mode = FhirAuthModes.None }, tokens: null, fhir);

        await client.GetAsync("Patient/1");

        Assert.Null(Assert.Single(fhir.Seen).Authorization);
    }

    [Fact]
    public async Task BearerAddsTheStaticToken()
    {
        var fhir = Ok();
        var client = Client(new FhirAuthSettings { Mode = FhirAuthModes.Bearer, Token = "static-token" }, tokens: null, fhir);

        await client.GetAsync("Patient/1");

        Assert.Equal("Bearer static-token", Assert.Single(fhir.Seen).Authorization);
    }

    [Fact]
    public async Task ClientCredentialsAuthenticatesWithFormEncodedBasicCredentials()
    {
        var tokens = Tokens();
        var fhir = Ok();
        var settings = ClientCredentials() with { ClientId = "vardbro app", ClientSecret = "s3:cr+t et", Scope = "system/*.read" };
        var client = Client(settings, tokens, fhir);

        await client.GetAsync("Patient/1");

        var tokenRequest = Assert.Single(tokens.Seen);
        Assert.Equal(HttpMethod.Post, tokenRequest.Method);
        Assert.Equal(new Uri(TokenUrl), tokenRequest.Uri);
        Assert.Equal("application/x-www-form-urlencoded", tokenRequest.ContentType);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("vardbro+app:s3%3Acr%2Bt+et")), tokenRequest.Authorization);
        var form = HttpUtility.ParseQueryString(tokenRequest.Body);
        Assert.Equal(new[] { "grant_type", "scope" }, form.AllKeys.OfType<string>());
        Assert.Equal("client_credentials", form["grant_type"]);
        Assert.Equal("system/*.read", form["scope"]);
        Assert.Equal("Bearer t1", Assert.Single(fhir.Seen).Authorization);
    }

    [Fact]
    public async Task ClientCredentialsPostModePutsTheCredentialsInTheBody()
    {
        var tokens = Tokens();
        var settings = ClientCredentials() with { ClientAuthentication = "POST", ClientSecret = "s3:cr+t et" };
        var client = Client(settings, tokens, Ok());

        await client.GetAsync("Patient/1");

        var tokenRequest = Assert.Single(tokens.Seen);
        Assert.Null(tokenRequest.Authorization);
        var form = HttpUtility.ParseQueryString(tokenRequest.Body);
        Assert.Equal("client_credentials", form["grant_type"]);
        Assert.Equal("vardbro", form["client_id"]);
        Assert.Equal("s3:cr+t et", form["client_secret"]);
        Assert.Null(form["scope"]);
    }

    [Fact]
    public async Task TheTokenIsCachedAcrossRequests()
    {
        var tokens = Tokens();
        var fhir = Ok();
        var client = Client(ClientCredentials(), tokens, fhir);

        for (var i = 0; i < 3; i++)
        {
            await client.GetAsync("Patient/1");
            _time.Advance(TimeSpan.FromMinutes(10));
        }

        Assert.Equal(1, tokens.Count);
        Assert.All(fhir.Seen, seen => Assert.Equal("Bearer t1", seen.Authorization));
    }

    [Theory]
    [InlineData(3600, 3540)] // 60 s before expiry
    [InlineData(100, 90)] // 10 % of a short lifetime
    [InlineData(null, 270)] // expires_in missing: 300 s
    public async Task TheTokenIsRenewedShortlyBeforeItExpires(int? expiresIn, int renewAfterSeconds)
    {
        var tokens = new FhirAuthStub((_, n) => FhirAuthStub.Token($"t{n}", expiresIn));
        var fhir = Ok();
        var client = Client(ClientCredentials(), tokens, fhir);

        await client.GetAsync("Patient/1");
        _time.Advance(TimeSpan.FromSeconds(renewAfterSeconds - 1));
        await client.GetAsync("Patient/1");
        Assert.Equal(1, tokens.Count);

        _time.Advance(TimeSpan.FromSeconds(1));
        await client.GetAsync("Patient/1");
        Assert.Equal(2, tokens.Count);
        Assert.Equal(["Bearer t1", "Bearer t1", "Bearer t2"], fhir.Seen.Select(s => s.Authorization));
    }

    [Fact]
    public async Task ConcurrentRequestsWithoutATokenShareOneTokenRequest()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokens = new FhirAuthStub(async (_, n) =>
        {
            await gate.Task;
            return FhirAuthStub.Token($"t{n}");
        });
        var fhir = Ok();
        var client = Client(ClientCredentials(), tokens, fhir);

        var requests = Enumerable.Range(0, 10).Select(_ => client.GetAsync("Patient/1")).ToArray();
        await Task.Delay(100);
        gate.SetResult();
        var responses = await Task.WhenAll(requests);

        Assert.Equal(1, tokens.Count);
        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(10, fhir.Count);
        Assert.All(fhir.Seen, seen => Assert.Equal("Bearer t1", seen.Authorization));
    }

    [Theory]
    [InlineData("RS384", "pkcs8")]
    [InlineData("RS384", "pkcs1")]
    [InlineData("ES384", "pkcs8")]
    [InlineData("ES384", "sec1")]
    public async Task SmartBackendSendsASignedClientAssertion(string algorithm, string keyFormat)
    {
        var tokens = Tokens();
        var settings = SmartBackend(algorithm, Pem(algorithm, keyFormat)) with { KeyId = "key-1" };
        var client = Client(settings, tokens, Ok());

        await client.GetAsync("Patient/1");
        var firstNow = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromHours(1));
        await client.GetAsync("Patient/1");

        Assert.Equal(2, tokens.Count);
        var forms = tokens.Seen.Select(seen => HttpUtility.ParseQueryString(seen.Body)).ToArray();
        Assert.All(tokens.Seen, seen => Assert.Null(seen.Authorization));
        Assert.All(forms, form =>
        {
            Assert.Equal(new[] { "grant_type", "scope", "client_assertion_type", "client_assertion" }, form.AllKeys.OfType<string>());
            Assert.Equal("client_credentials", form["grant_type"]);
            Assert.Equal("system/Patient.read", form["scope"]);
            Assert.Equal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", form["client_assertion_type"]);
        });

        var first = VerifiedJwt(forms[0]["client_assertion"]!, algorithm);
        var second = VerifiedJwt(forms[1]["client_assertion"]!, algorithm);
        Assert.Equal(algorithm, first.Header.GetProperty("alg").GetString());
        Assert.Equal("JWT", first.Header.GetProperty("typ").GetString());
        Assert.Equal("key-1", first.Header.GetProperty("kid").GetString());
        Assert.Equal("vardbro", first.Claims.GetProperty("iss").GetString());
        Assert.Equal("vardbro", first.Claims.GetProperty("sub").GetString());
        Assert.Equal(TokenUrl, first.Claims.GetProperty("aud").GetString());
        Assert.NotEqual(first.Claims.GetProperty("jti").GetString(), second.Claims.GetProperty("jti").GetString());
        Assert.False(string.IsNullOrEmpty(first.Claims.GetProperty("jti").GetString()));
        foreach (var (jwt, now) in new[] { (first, firstNow), (second, _time.GetUtcNow()) })
        {
            var iat = jwt.Claims.GetProperty("iat").GetInt64();
            var exp = jwt.Claims.GetProperty("exp").GetInt64();
            Assert.Equal(now.ToUnixTimeSeconds(), iat);
            Assert.True(exp > now.ToUnixTimeSeconds(), "exp is in the future");
            Assert.True(exp - iat <= 300, "exp is at most five minutes after iat");
        }
    }

    [Fact]
    public async Task SmartBackendReadsTheKeyFromPrivateKeyPathAndOmitsAnAbsentKid()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, Rsa.ExportPkcs8PrivateKeyPem());
            var tokens = Tokens();
            var client = Client(SmartBackend("RS384", pem: null) with { PrivateKeyPath = path }, tokens, Ok());

            await client.GetAsync("Patient/1");

            var jwt = VerifiedJwt(HttpUtility.ParseQueryString(Assert.Single(tokens.Seen).Body)["client_assertion"]!, "RS384");
            Assert.False(jwt.Header.TryGetProperty("kid", out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A401ToACachedTokenRenewsTheTokenAndResendsTheRequestOnce()
    {
        var tokens = Tokens();
        var fhir = new FhirAuthStub((_, n) => new HttpResponseMessage(n == 2 ? HttpStatusCode.Unauthorized : HttpStatusCode.OK));
        var client = Client(ClientCredentials(), tokens, fhir);
        await client.GetAsync("Patient/1");
        const string body = """{"resourceType":"Appointment","status":"booked"}""";
        using var content = new StreamContent(new FhirAuthOneShotStream(Encoding.UTF8.GetBytes(body)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");

        var response = await client.PostAsync("Appointment", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, tokens.Count);
        Assert.Equal(3, fhir.Count);
        var (rejected, resent) = (fhir.Seen[1], fhir.Seen[2]);
        Assert.Equal("Bearer t1", rejected.Authorization);
        Assert.Equal("Bearer t2", resent.Authorization);
        Assert.Equal(HttpMethod.Post, resent.Method);
        Assert.Equal(new Uri(FhirBase + "Appointment"), resent.Uri);
        Assert.Equal("application/fhir+json", resent.ContentType);
        Assert.Equal(body, rejected.Body);
        Assert.Equal(body, resent.Body);
    }

    [Fact]
    public async Task ASecond401IsReturnedAsIs()
    {
        var tokens = Tokens();
        var fhir = new FhirAuthStub((_, n) => new HttpResponseMessage(n == 1 ? HttpStatusCode.OK : HttpStatusCode.Unauthorized));
        var client = Client(ClientCredentials(), tokens, fhir);
        await client.GetAsync("Patient/1");

        var response = await client.GetAsync("Patient/1");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, tokens.Count);
        Assert.Equal(3, fhir.Count);
    }

    [Fact]
    public async Task A401ToAFreshTokenIsReturnedWithoutAnotherTokenRequest()
    {
        var tokens = Tokens();
        var fhir = new FhirAuthStub((_, _) => new HttpResponseMessage(HttpStatusCode.Unauthorized));
        var client = Client(ClientCredentials(), tokens, fhir);

        var response = await client.GetAsync("Patient/1");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1, tokens.Count);
        Assert.Equal(1, fhir.Count);
    }

    [Fact]
    public async Task ARefusedTokenRequestNamesTheOAuthErrorButNotTheSecret()
    {
        const string secret = "very-secret-value";
        var tokens = new FhirAuthStub((_, _) => FhirAuthStub.Json(HttpStatusCode.Unauthorized,
            $$"""{"error":"invalid_client","error_description":"bad secret {{secret}}"}"""));
        var client = Client(ClientCredentials() with { ClientSecret = secret }, tokens, Ok());

        var error = await Assert.ThrowsAsync<EmrBadAnswerException>(() => client.GetAsync("Patient/1"));

        Assert.Contains("invalid_client", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 401", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<html>oops</html>")]
    [InlineData("""{"token_type":"Bearer"}""")]
    [InlineData("""{"access_token":"t1","token_type":"mac"}""")]
    public async Task AnUnusableTokenResponseIsABadAnswer(string json)
    {
        var tokens = new FhirAuthStub((_, _) => FhirAuthStub.Json(HttpStatusCode.OK, json));
        var fhir = Ok();
        var client = Client(ClientCredentials(), tokens, fhir);

        await Assert.ThrowsAsync<EmrBadAnswerException>(() => client.GetAsync("Patient/1"));
        Assert.Equal(0, fhir.Count);
    }

    [Fact]
    public async Task AnUnreachableTokenEndpointMakesTheEmrUnavailable()
    {
        var tokens = new FhirAuthStub((_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException("Connection refused")));
        var client = Client(ClientCredentials(), tokens, Ok());

        var error = await Assert.ThrowsAsync<EmrUnavailableException>(() => client.GetAsync("Patient/1"));

        Assert.False(error.TimedOut);
    }

    [Fact]
    public async Task ATokenEndpointThatTimesOutMakesTheEmrUnavailable()
    {
        var tokens = new FhirAuthStub((_, _) =>
            Task.FromException<HttpResponseMessage>(new TaskCanceledException("HttpClient.Timeout elapsed", new TimeoutException())));
        var client = Client(ClientCredentials(), tokens, Ok());

        var error = await Assert.ThrowsAsync<EmrUnavailableException>(() => client.GetAsync("Patient/1"));

        Assert.True(error.TimedOut);
    }

    [Fact]
    public async Task ATokenEndpointAnswering503MakesTheEmrUnavailable()
    {
        var tokens = new FhirAuthStub((_, _) => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var client = Client(ClientCredentials(), tokens, Ok());

        await Assert.ThrowsAsync<EmrUnavailableException>(() => client.GetAsync("Patient/1"));
    }

    [Fact]
    public async Task TheCallerCancellingIsNotReportedAsAnOutage()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokens = new FhirAuthStub(async (_, _) =>
        {
            await gate.Task;
            return FhirAuthStub.Token("t1");
        });
        var client = Client(ClientCredentials(), tokens, Ok());
        using var cancellation = new CancellationTokenSource();

        var request = client.GetAsync("Patient/1", cancellation.Token);
        await cancellation.CancelAsync();

        var error = await Record.ExceptionAsync(() => request.WaitAsync(TimeSpan.FromSeconds(10)));
        gate.SetResult();
        Assert.IsAssignableFrom<OperationCanceledException>(error);
    }

    [Fact]
    public async Task AFailedTokenRequestIsNotCached()
    {
        var tokens = new FhirAuthStub((_, n) => n == 1
            ? new HttpResponseMessage(HttpStatusCode.InternalServerError)
            : FhirAuthStub.Token($"t{n}"));
        var fhir = Ok();
        var client = Client(ClientCredentials(), tokens, fhir);

        await Assert.ThrowsAsync<EmrBadAnswerException>(() => client.GetAsync("Patient/1"));
        var response = await client.GetAsync("Patient/1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bearer t2", Assert.Single(fhir.Seen).Authorization);
    }

    [Theory]
    [InlineData("Mode=kerberos", "Emrs:test:Auth:Mode 'kerberos' is not one of none, bearer, client_credentials, smart_backend")]
    [InlineData("Mode=bearer", "Emrs:test:Auth:Token is required for bearer")]
    [InlineData("Mode=client_credentials", "Emrs:test:Auth:TokenUrl is required for client_credentials|Emrs:test:Auth:ClientId is required for client_credentials|Emrs:test:Auth:ClientSecret is required for client_credentials")]
    [InlineData("Mode=client_credentials;TokenUrl=/token;ClientId=a;ClientSecret=b", "Emrs:test:Auth:TokenUrl must be an absolute http(s) URL")]
    [InlineData("Mode=client_credentials;TokenUrl=https://emr.example/token;ClientId=a;ClientSecret=b;ClientAuthentication=jwt", "Emrs:test:Auth:ClientAuthentication must be 'basic' or 'post', not 'jwt'")]
    [InlineData("Mode=smart_backend", "Emrs:test:Auth:TokenUrl is required for smart_backend|Emrs:test:Auth:ClientId is required for smart_backend|Emrs:test:Auth:Scope is required for smart_backend|Emrs:test:Auth:PrivateKeyPem or Emrs:test:Auth:PrivateKeyPath is required for smart_backend")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<rsa>;Algorithm=HS256", "Emrs:test:Auth:Algorithm 'HS256' is not one of RS384, ES384")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<rsa>;PrivateKeyPath=/key.pem", "Emrs:test:Auth:PrivateKeyPem and Emrs:test:Auth:PrivateKeyPath are both set; set only one")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<ec>", "Emrs:test:Auth:PrivateKeyPem is unusable: it is not a PEM private key (PKCS#8, PKCS#1 or SEC1) of the kind RS384 needs (RSA)")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<rsa>;Algorithm=ES384", "Emrs:test:Auth:PrivateKeyPem is unusable: it is not a PEM private key (PKCS#8, PKCS#1 or SEC1) of the kind ES384 needs (EC P-384)")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<rsa-public>", "Emrs:test:Auth:PrivateKeyPem is unusable: it is not a PEM private key (PKCS#8, PKCS#1 or SEC1) of the kind RS384 needs (RSA)")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPath=/nonexistent/vardbro-key.pem", "Emrs:test:Auth:PrivateKeyPath is unusable: the file '/nonexistent/vardbro-key.pem' cannot be read (DirectoryNotFoundException)")]
    public void ValidationNamesEachProblem(string config, string expected)
    {
        var problems = FhirAuthSettings.Validate(FhirAuthSettings.FromLookup(Lookup(config)), Prefix);

        Assert.Equal(expected.Split('|'), problems);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Mode=None")]
    [InlineData("Mode=BEARER;Token=abc")]
    [InlineData("Mode=Client_Credentials;TokenUrl=https://emr.example/token;ClientId=a;ClientSecret=b;ClientAuthentication=Post")]
    [InlineData("Mode=SMART_BACKEND;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<rsa-pkcs1>;Algorithm=rs384")]
    [InlineData("Mode=smart_backend;TokenUrl=https://emr.example/token;ClientId=a;Scope=s;PrivateKeyPem=<ec>;Algorithm=ES384")]
    public void ValidSettingsHaveNoProblemsAndModeNamesIgnoreCase(string config)
    {
        var settings = FhirAuthSettings.FromLookup(Lookup(config));

        Assert.Empty(FhirAuthSettings.Validate(settings, Prefix));
        using var handler = new FhirAuthHandler(settings, new HttpMessageInvoker(Ok()), _time);
    }

    [Fact]
    public void FromLookupReadsEveryKeyAndTreatsBlanksAsAbsent()
    {
        var settings = FhirAuthSettings.FromLookup(Lookup(
            "Mode=Smart_Backend;TokenUrl= https://emr.example/token ;ClientId=id;ClientSecret=;Scope=system/*.read;" +
            "ClientAuthentication=POST;PrivateKeyPath=/keys/k.pem;Algorithm=es384;KeyId=kid-1;Token=   "));

        Assert.Equal(
            new FhirAuthSettings
            {
                Mode = FhirAuthModes.SmartBackend,
                TokenUrl = "https://emr.example/token",
                ClientId = "id",
                Scope = "system/*.read",
                ClientAuthentication = FhirAuthSettings.ClientAuthenticationPost,
                PrivateKeyPath = "/keys/k.pem",
                Algorithm = FhirAuthSettings.AlgorithmEs384,
                KeyId = "kid-1",
            },
            settings);
        Assert.Equal(FhirAuthModes.None, FhirAuthSettings.FromLookup(_ => null).Mode);
    }

    [Fact]
    public void SettingsNeverPrintTheirSecrets()
    {
        var settings = ClientCredentials() with { ClientSecret = "the-secret", Token = "the-token", PrivateKeyPem = "the-pem" };

        var printed = settings.ToString();

        Assert.DoesNotContain("the-secret", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("the-token", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("the-pem", printed, StringComparison.Ordinal);
        Assert.Contains("vardbro", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void TheHandlerRefusesInvalidSettingsAndAMissingTokenTransport()
    {
        var invalid = Assert.Throws<ArgumentException>(() => new FhirAuthHandler(ClientCredentials() with { ClientId = null }, new HttpMessageInvoker(Ok()), _time));
        Assert.Contains("ClientId", invalid.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new FhirAuthHandler(ClientCredentials(), tokenTransport: null, _time));
    }

    private static FhirAuthSettings ClientCredentials() => new()
    {
        Mode = FhirAuthModes.ClientCredentials,
        TokenUrl = TokenUrl,
        ClientId = "vardbro",
        ClientSecret = "secret",
    };

    private static FhirAuthSettings SmartBackend(string algorithm, string? pem) => new()
    {
        Mode = FhirAuthModes.SmartBackend,
        TokenUrl = TokenUrl,
        ClientId = "vardbro",
        Scope = "system/Patient.read",
        Algorithm = algorithm,
        PrivateKeyPem = pem,
    };

    private static string Pem(string algorithm, string format) => (algorithm, format) switch
    {
        ("RS384", "pkcs8") => Rsa.ExportPkcs8PrivateKeyPem(),
        ("RS384", "pkcs1") => Rsa.ExportRSAPrivateKeyPem(),
        ("ES384", "pkcs8") => Ec.ExportPkcs8PrivateKeyPem(),
        ("ES384", "sec1") => Ec.ExportECPrivateKeyPem(),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static Func<string, string?> Lookup(string config)
    {
        var values = config.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1] switch
            {
                "<rsa>" => Rsa.ExportPkcs8PrivateKeyPem(),
                "<rsa-pkcs1>" => Rsa.ExportRSAPrivateKeyPem(),
                "<rsa-public>" => Rsa.ExportSubjectPublicKeyInfoPem(),
                "<ec>" => Ec.ExportPkcs8PrivateKeyPem(),
                var value => value,
            });
        return key => values.GetValueOrDefault(key);
    }

    private static (JsonElement Header, JsonElement Claims) VerifiedJwt(string jwt, string algorithm)
    {
        var parts = jwt.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.All(parts, part => Assert.DoesNotContain('=', part));
        var data = Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}");
        var signature = Base64Url.DecodeFromChars(parts[2]);
        var valid = algorithm == "RS384"
            ? Rsa.VerifyData(data, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1)
            : Ec.VerifyData(data, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        Assert.True(valid, "the signature verifies with the public key");
        return (JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement,
                JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement);
    }

    private static FhirAuthStub Tokens() => new((_, n) => FhirAuthStub.Token($"t{n}"));

    private static FhirAuthStub Ok() => new((_, _) => new HttpResponseMessage(HttpStatusCode.OK));

    private HttpClient Client(FhirAuthSettings settings, FhirAuthStub? tokens, FhirAuthStub fhir)
    {
        var transport = tokens is null ? null : new HttpMessageInvoker(tokens);
        var client = new HttpClient(new FhirAuthHandler(settings, transport, _time) { InnerHandler = fhir })
        {
            BaseAddress = new Uri(FhirBase),
        };
        _disposables.Add(client);
        if (transport is not null)
        {
            _disposables.Add(transport);
        }

        return client;
    }
}
