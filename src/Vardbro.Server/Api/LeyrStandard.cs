using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>
/// Leyr's FHIR switches: a GET under <c>/api/emrs/…</c> with the header <c>x-leyr-standard: fhir</c> or the
/// query <c>standard=fhir</c> is served by its twin under <c>/api/fhir/emrs/…</c>, by rewriting the path
/// before routing, so the answer is the twin's own (status, body, content type, errors as
/// <c>OperationOutcome</c>). Any other value is refused with Leyr's message, after authentication (by
/// <see cref="QueryParameterMiddleware"/>), like every other parameter.
/// </summary>
public sealed class LeyrStandard(RequestDelegate next)
{
    public const string Header = "x-leyr-standard";
    public const string Query = "standard";
    public const string Fhir = "fhir";
    public const string NotAnEnumerationMember = "value is not a valid enumeration member; permitted: 'fhir'";

    private static readonly object RefusalKey = new();

    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            || !request.Path.StartsWithSegments("/api/emrs", StringComparison.OrdinalIgnoreCase))
        {
            // Leyr's guides send the header on writes too; there is no FHIR form of a write, so it is read only on GET.
            return next(context);
        }

        var header = request.Headers[Header];
        var query = request.Query[Query];
        string? wrong = header.Count > 0 && !IsFhir(header) ? Header : query.Count > 0 && !IsFhir(query) ? Query : null;
        if (wrong is not null)
        {
            context.Items[RefusalKey] = new VardbroException(ErrorCodes.InvalidField, NotAnEnumerationMember, wrong);
            request.QueryString = WithoutSwitch(request.QueryString);
            return next(context);
        }

        if ((header.Count > 0 || query.Count > 0) && request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase, out var rest))
        {
            request.Path = "/api/fhir" + rest;
            request.QueryString = WithoutSwitch(request.QueryString);
        }

        return next(context);
    }

    /// <summary>A switch with a value other than <c>fhir</c> on this request, refused once the client is known.</summary>
    public static VardbroException? RefusalOf(HttpContext context) =>
        context?.Items.TryGetValue(RefusalKey, out var refusal) == true ? refusal as VardbroException : null;

    /// <summary>
    /// The query without <c>standard</c>, the rest byte for byte as the client sent it, so that links the
    /// twin builds from its request (a Bundle's self link) are the ones it would build for a direct call.
    /// </summary>
    private static QueryString WithoutSwitch(QueryString query)
    {
        if (!query.HasValue)
        {
            return query;
        }

        var kept = query.Value![1..].Split('&')
            .Where(part => !string.Equals(Uri.UnescapeDataString(part.Split('=')[0].Replace('+', ' ')), Query, StringComparison.OrdinalIgnoreCase))
            .ToList();
        return kept.Count == 0 ? QueryString.Empty : new QueryString("?" + string.Join('&', kept));
    }

    private static bool IsFhir(Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 1 && string.Equals(values[0], Fhir, StringComparison.Ordinal);
}
