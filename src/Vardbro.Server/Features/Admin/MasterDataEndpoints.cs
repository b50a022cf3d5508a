using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.Emrs;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.Resources;

namespace Vardbro.Server.Features.Admin;

public sealed record CareUnitBody(string? Id, [property: Required] string? Name, string? TimeZone, string? Address, bool? RequiresConfirmation);

public sealed record ResourceBody(string? Id, [property: Required] string? Name, string? Title, [property: AllowedValues(ResourceKinds.Practitioner, ResourceKinds.Room, ResourceKinds.Equipment)] string? Kind, string? HsaId, string? SePersonalNumber);

public sealed record HealthcareServiceBody(string? Id, [property: Required] string? Name, string? Description, [property: Required] int? DurationMinutes);

/// <summary>Master data of the built-in EHR, so that it is usable beyond the sandbox.</summary>
public static class MasterDataEndpoints
{
    public static void MapMasterDataAdmin(this IEndpointRouteBuilder admin)
    {
        var units = admin.MapGroup("/emrs/{emr}/care-units").WithTags("Administration");
        units.MapPost("/", CreateCareUnit).WithName("AdminCreateCareUnit").WithSummary("Create a care unit of a built-in EMR.");
        units.MapPut("/{care_unit_id}", UpdateCareUnit).WithName("AdminUpdateCareUnit").WithSummary("Change a care unit's name, time zone, address or confirmation rule.");
        units.MapDelete("/{care_unit_id}", DeleteCareUnit).WithName("AdminDeleteCareUnit").WithSummary("Delete a care unit that nothing refers to any more.");

        var resources = units.MapGroup("/{care_unit_id}/resources");
        resources.MapPost("/", CreateResource).WithName("AdminCreateResource").WithSummary("Create a resource (practitioner, room, equipment) at a care unit.");
        resources.MapPut("/{resource_id}", UpdateResource).WithName("AdminUpdateResource").WithSummary("Change a resource.");
        resources.MapDelete("/{resource_id}", DeleteResource).WithName("AdminDeleteResource").WithSummary("Delete a resource.");

        var services = units.MapGroup("/{care_unit_id}/healthcare-services");
        services.MapPost("/", CreateHealthcareService).WithName("AdminCreateHealthcareService").WithSummary("Create a healthcare service at a care unit.");
        services.MapPut("/{service_id}", UpdateHealthcareService).WithName("AdminUpdateHealthcareService").WithSummary("Change a healthcare service.");
        services.MapDelete("/{service_id}", DeleteHealthcareService).WithName("AdminDeleteHealthcareService").WithSummary("Delete a healthcare service.");
    }

    public static async Task<Created<CareUnitResponse>> CreateCareUnit(string emr, CareUnitBody body, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var careUnit = ReadCareUnit(body, NewId("cu"));
        var created = await connectors.Require<IMasterDataAdmin>(emr).CreateCareUnitAsync(careUnit, cancellationToken);
        return TypedResults.Created($"/api/emrs/{emr}/care-units/{created.Id}", CareUnitResponse.From(created));
    }

    public static async Task<Ok<CareUnitResponse>> UpdateCareUnit(string emr, string care_unit_id, CareUnitBody body, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var careUnit = ReadCareUnit(body with { Id = care_unit_id }, care_unit_id);
        var updated = await connectors.Require<IMasterDataAdmin>(emr).UpdateCareUnitAsync(careUnit, cancellationToken) ?? throw NotFound("care unit", "care_unit_id");
        return TypedResults.Ok(CareUnitResponse.From(updated));
    }

    public static async Task<NoContent> DeleteCareUnit(string emr, string care_unit_id, EmrConnectors connectors, CancellationToken cancellationToken) =>
        await connectors.Require<IMasterDataAdmin>(emr).DeleteCareUnitAsync(care_unit_id, cancellationToken)
            ? TypedResults.NoContent()
            : throw NotFound("care unit", "care_unit_id");

    public static async Task<Created<ResourceResponse>> CreateResource(string emr, string care_unit_id, ResourceBody body, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var resource = ReadResource(body, NewId("res"), time);
        var created = await connectors.Require<IMasterDataAdmin>(emr).CreateResourceAsync(care_unit_id, resource, cancellationToken);
        return TypedResults.Created($"/api/emrs/{emr}/care-units/{care_unit_id}/resources/{created.Id}", ResourceResponse.From(created));
    }

    public static async Task<Ok<ResourceResponse>> UpdateResource(string emr, string care_unit_id, string resource_id, ResourceBody body, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var resource = ReadResource(body with { Id = resource_id }, resource_id, time);
        var updated = await connectors.Require<IMasterDataAdmin>(emr).UpdateResourceAsync(care_unit_id, resource, cancellationToken) ?? throw NotFound("resource", "resource_id");
        return TypedResults.Ok(ResourceResponse.From(updated));
    }

    public static async Task<NoContent> DeleteResource(string emr, string care_unit_id, string resource_id, EmrConnectors connectors, CancellationToken cancellationToken) =>
        await connectors.Require<IMasterDataAdmin>(emr).DeleteResourceAsync(care_unit_id, resource_id, cancellationToken)
            ? TypedResults.NoContent()
            : throw NotFound("resource", "resource_id");

    public static async Task<Created<HealthcareServiceResponse>> CreateHealthcareService(string emr, string care_unit_id, HealthcareServiceBody body, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var service = ReadService(body, NewId("svc"));
        var created = await connectors.Require<IMasterDataAdmin>(emr).CreateHealthcareServiceAsync(care_unit_id, service, cancellationToken);
        return TypedResults.Created($"/api/emrs/{emr}/care-units/{care_unit_id}/healthcare-services", HealthcareServiceResponse.From(created));
    }

    public static async Task<Ok<HealthcareServiceResponse>> UpdateHealthcareService(string emr, string care_unit_id, string service_id, HealthcareServiceBody body, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var service = ReadService(body with { Id = service_id }, service_id);
        var updated = await connectors.Require<IMasterDataAdmin>(emr).UpdateHealthcareServiceAsync(care_unit_id, service, cancellationToken) ?? throw NotFound("healthcare service", "service_id");
        return TypedResults.Ok(HealthcareServiceResponse.From(updated));
    }

    public static async Task<NoContent> DeleteHealthcareService(string emr, string care_unit_id, string service_id, EmrConnectors connectors, CancellationToken cancellationToken) =>
        await connectors.Require<IMasterDataAdmin>(emr).DeleteHealthcareServiceAsync(care_unit_id, service_id, cancellationToken)
            ? TypedResults.NoContent()
            : throw NotFound("healthcare service", "service_id");

    private static NewCareUnit ReadCareUnit(CareUnitBody body, string defaultId)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var id = Id(body.Id, defaultId, errors);
        var name = Http.Text(body.Name, "name", 256, errors, required: true);
        var timeZone = Http.Text(body.TimeZone, "time_zone", 64, errors) ?? TimeZones.Default;
        if (!TimeZones.TryFind(timeZone, out _))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "time_zone must be an IANA time zone such as Europe/Stockholm.", "time_zone"));
        }

        var address = Http.Text(body.Address, "address", 512, errors);
        Http.ThrowIfAny(errors);
        return new NewCareUnit(id, name!, timeZone, address, body.RequiresConfirmation ?? false);
    }

    private static NewResource ReadResource(ResourceBody body, string defaultId, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var id = Id(body.Id, defaultId, errors);
        var name = Http.Text(body.Name, "name", 256, errors, required: true);
        var title = Http.Text(body.Title, "title", 256, errors);
        var kind = Http.Text(body.Kind, "kind", 32, errors) ?? ResourceKinds.Practitioner;
        if (!ResourceKinds.IsKnown(kind))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "kind must be practitioner, room or equipment.", "kind"));
        }

        var hsaId = Http.Text(body.HsaId, "hsa_id", 31, errors);
        if (hsaId is not null && !HsaId.IsValid(hsaId))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidResourceId, "hsa_id must look like SE2321000131-E000000012345.", "hsa_id"));
        }

        string? personalNumber = null;
        if (Http.Text(body.SePersonalNumber, "se_personal_number", 13, errors) is { } pn
            && !SwedishPersonalNumber.TryNormalize(pn, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), out personalNumber))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidResourceId, "se_personal_number is not a valid Swedish personal number.", "se_personal_number"));
        }

        Http.ThrowIfAny(errors);
        return new NewResource(id, name!, title, kind, hsaId, personalNumber);
    }

    private static NewHealthcareService ReadService(HealthcareServiceBody body, string defaultId)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var id = Id(body.Id, defaultId, errors);
        var name = Http.Text(body.Name, "name", 256, errors, required: true);
        var description = Http.Text(body.Description, "description", 2000, errors);
        if (body.DurationMinutes is not { } minutes)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "duration_minutes is required.", "duration_minutes"));
        }
        else if (minutes is < HealthcareService.MinDurationMinutes or > HealthcareService.MaxDurationMinutes)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"duration_minutes must be from {HealthcareService.MinDurationMinutes} to {HealthcareService.MaxDurationMinutes}.", "duration_minutes"));
        }

        Http.ThrowIfAny(errors);
        return new NewHealthcareService(id, name!, description, body.DurationMinutes!.Value);
    }

    /// <summary>Ids of master data go into paths and typed ids: letters, digits, '.', '_' and '-' only.</summary>
    private static string Id(string? value, string defaultId, List<ApiError> errors)
    {
        if (value is null)
        {
            return defaultId;
        }

        if (value.Length is 0 or > 128 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "id must be 1–128 characters: letters, digits, '.', '_' or '-'.", "id"));
        }

        return value;
    }

    private static string NewId(string prefix) => $"{prefix}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    private static VardbroException NotFound(string what, string path) => new(ErrorCodes.NotFound, $"No {what} with that id.", path);
}
