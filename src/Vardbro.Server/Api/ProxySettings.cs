using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Vardbro.Server.Api;

/// <summary>
/// <c>ForwardedHeaders:*</c>, for a server behind a reverse proxy that ends TLS: with <c>Enabled</c>,
/// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed from the proxies listed in
/// <c>KnownProxies</c> (addresses) and <c>KnownNetworks</c> (CIDR), and from loopback, so that the
/// links Vardbro writes (the FHIR routes' <c>fullUrl</c>s) say <c>https</c> and the client's address is
/// the client's. Off by default: a server reached directly must not believe such headers.
/// </summary>
public sealed class ForwardedHeadersSettings : IValidatableObject
{
    public const string Section = "ForwardedHeaders";

    public bool Enabled { get; set; }

    public List<string> KnownProxies { get; set; } = [];

    public List<string> KnownNetworks { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var proxy in KnownProxies.Where(p => !IPAddress.TryParse(p, out _)))
        {
            yield return new ValidationResult($"'{proxy}' is not an IP address.", [nameof(KnownProxies)]);
        }

        foreach (var network in KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _)))
        {
            yield return new ValidationResult($"'{network}' is not a network in CIDR form (e.g. 10.0.0.0/8).", [nameof(KnownNetworks)]);
        }
    }

    /// <summary>The middleware's options for these settings.</summary>
    public ForwardedHeadersOptions ToOptions()
    {
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto };
        foreach (var proxy in KnownProxies)
        {
            options.KnownProxies.Add(IPAddress.Parse(proxy));
        }

        foreach (var network in KnownNetworks)
        {
            options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        }

        return options;
    }
}
