using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hl7.Fhir.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Vardbro.Server.Api;
using F = Hl7.Fhir.Model;

namespace Vardbro.Server.Features.Fhir;

/// <summary>
/// A 200 answer whose body is one FHIR R4 resource (a Bundle included) in FHIR's own JSON, written
/// by the Firely serializer as <c>application/fhir+json</c>. Errors never take this path: they are
/// thrown like everywhere else, and <see cref="Problem"/> writes their envelope as an
/// <c>OperationOutcome</c> (<see cref="FhirOutcome"/>) through <see cref="WriteBodyAsync"/>.
/// </summary>
public sealed class FhirResult(F.Resource resource) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult, IValueHttpResult, IEndpointMetadataProvider
{
    public const string MediaType = "application/fhir+json";
    public const string ContentTypeWithCharset = MediaType + "; charset=utf-8";

    // The Firely converters, with the same readable escaping as the JSON routes (å stays å).
    private static readonly JsonSerializerOptions Options =
        new JsonSerializerOptions { Encoder = Problem.JsonEncoder }.ForFhir(F.ModelInfo.ModelInspector);

    public F.Resource Resource { get; } = resource ?? throw new ArgumentNullException(nameof(resource));

    public int? StatusCode => StatusCodes.Status200OK;

    public string ContentType => ContentTypeWithCharset;

    object? IValueHttpResult.Value => Resource;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        await WriteBodyAsync(httpContext, Resource);
    }

    /// <summary>Writes <paramref name="resource"/> as the body, with the FHIR content type; the status is the caller's.</summary>
    public static async Task WriteBodyAsync(HttpContext httpContext, F.Resource resource)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(resource);
        httpContext.Response.ContentType = ContentTypeWithCharset;
        await JsonSerializer.SerializeAsync(httpContext.Response.Body, resource, resource.GetType(), Options, httpContext.RequestAborted);
    }

    /// <summary>Tells the OpenAPI document that the 200 answer is FHIR JSON (an object with <c>resourceType</c>).</summary>
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(FhirResourceJson), [MediaType]));
    }
}

/// <summary>The OpenAPI document's name for a FHIR answer; the body itself is written by Firely.</summary>
[Description("A FHIR R4 resource in FHIR's JSON format (http://hl7.org/fhir/R4/json.html): a Bundle of type searchset for lists, else the resource the route names.")]
public sealed record FhirResourceJson([property: JsonPropertyName("resourceType")] string ResourceType);
