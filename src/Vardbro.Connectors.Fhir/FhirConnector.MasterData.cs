using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// Master data written to the FHIR server: care units as <c>Location</c>s, practitioners with a
/// <c>PractitionerRole</c> at the care unit, <c>HealthcareService</c>s. Records keep the ids the
/// admin gives them (created with PUT), so they must be valid FHIR ids. Each write first checks that
/// the server's CapabilityStatement declares every interaction it needs: a server whose master data
/// is kept in the EHR itself (Millennium: Location read and search only) is 400 NOT_SUPPORTED before
/// anything is written, never half a write.
/// </summary>
public sealed partial class FhirConnector
{
    public async Task<CareUnit> CreateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        await RequireWritesAsync([("Location", CreateById)], cancellationToken);
        RequireFhirId(careUnit.Id);
        if (await http.ReadAsync<F.Location>("Location/" + careUnit.Id, cancellationToken) is not null)
        {
            throw Exists("care unit");
        }

        var location = FhirMapping.ToFhir(new CareUnit(careUnit.Id, careUnit.Name, careUnit.TimeZone, careUnit.Address, careUnit.RequiresConfirmation), FhirIdMap.Server);
        return FhirMapping.ToCareUnit(await http.UpdateAsync(location, null, cancellationToken), settings.TimeZone);
    }

    public async Task<CareUnit?> UpdateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        await RequireWritesAsync([("Location", "update")], cancellationToken);
        var location = FhirIds.IsValid(careUnit.Id) ? await http.ReadAsync<F.Location>("Location/" + careUnit.Id, cancellationToken) : null;
        if (location is null)
        {
            return null;
        }

        // The server's other fields (managing organisation, position, …) stay as they are.
        var replacement = FhirMapping.ToFhir(new CareUnit(careUnit.Id, careUnit.Name, careUnit.TimeZone, careUnit.Address, careUnit.RequiresConfirmation), FhirIdMap.Server);
        location.Name = replacement.Name;
        location.Address = replacement.Address;
        location.Extension.RemoveAll(e => e.Url is FhirSystems.TimeZoneExtension or FhirSystems.RequiresConfirmationExtension);
        location.Extension.AddRange(replacement.Extension);
        return FhirMapping.ToCareUnit(await http.UpdateAsync(location, location.Meta?.VersionId, cancellationToken), settings.TimeZone);
    }

    public async Task<bool> DeleteCareUnitAsync(string careUnitId, CancellationToken cancellationToken)
    {
        await RequireWritesAsync([("Location", "delete")], cancellationToken);
        if (await GetCareUnitAsync(careUnitId, cancellationToken) is null)
        {
            return false;
        }

        if ((await RolesAtAsync(careUnitId, null, cancellationToken)).Count > 0 || (await ListHealthcareServicesAsync(careUnitId, cancellationToken)).Count > 0)
        {
            throw new ConflictException(ErrorCodes.BadInput, "The care unit is still referenced by its resources or healthcare services; remove those first.", "id");
        }

        return await http.DeleteAsync("Location/" + careUnitId, cancellationToken);
    }

    public async Task<Resource> CreateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        await RequireWritesAsync([("PractitionerRole", "create"), ("Practitioner", "update")], cancellationToken);
        await RequireCareUnitAsync(careUnitId, cancellationToken);
        RequirePractitioner(resource);
        RequireFhirId(resource.Id);
        if ((await RolesAtAsync(careUnitId, resource.Id, cancellationToken)).Count > 0)
        {
            throw Exists("resource");
        }

        await RequireUniqueHsaIdAsync(resource, cancellationToken);
        var practitioner = await http.ReadAsync<F.Practitioner>("Practitioner/" + resource.Id, cancellationToken);
        if (practitioner is null)
        {
            await RequireWritesAsync([("Practitioner", CreateById)], cancellationToken);
        }

        var written = await WritePractitionerAsync(practitioner, careUnitId, resource, cancellationToken);
        var role = new F.PractitionerRole
        {
            Active = true,
            Practitioner = new F.ResourceReference("Practitioner/" + resource.Id),
            Location = [new F.ResourceReference("Location/" + careUnitId)],
            Code = resource.Title is null ? [] : [new F.CodeableConcept { Text = resource.Title }],
        };
        var (createdRole, _) = await http.CreateAsync(role, null, cancellationToken);
        return FhirMapping.ToResource(written, createdRole, careUnitId);
    }

    public async Task<Resource?> UpdateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        await RequireWritesAsync([("Practitioner", "update"), ("PractitionerRole", "update")], cancellationToken);
        var role = FhirIds.IsValid(resource.Id) ? (await RolesAtAsync(careUnitId, resource.Id, cancellationToken)).FirstOrDefault() : null;
        var practitioner = role is null ? null : await http.ReadAsync<F.Practitioner>("Practitioner/" + resource.Id, cancellationToken);
        if (role is null || practitioner is null)
        {
            return null;
        }

        RequirePractitioner(resource);
        await RequireUniqueHsaIdAsync(resource, cancellationToken);
        var written = await WritePractitionerAsync(practitioner, careUnitId, resource, cancellationToken);
        role.Code = resource.Title is null ? [] : [new F.CodeableConcept { Text = resource.Title }];
        role = await http.UpdateAsync(role, role.Meta?.VersionId, cancellationToken);
        return FhirMapping.ToResource(written, role, careUnitId);
    }

    public async Task<bool> DeleteResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken)
    {
        // The practitioner stays in the EHR; only their role at this care unit goes.
        await RequireWritesAsync([("PractitionerRole", "delete")], cancellationToken);
        var roles = FhirIds.IsValid(resourceId) ? await RolesAtAsync(careUnitId, resourceId, cancellationToken) : [];
        foreach (var role in roles)
        {
            await http.DeleteAsync("PractitionerRole/" + role.Id, cancellationToken);
        }

        return roles.Count > 0;
    }

    public async Task<HealthcareService> CreateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        await RequireWritesAsync([("HealthcareService", CreateById)], cancellationToken);
        await RequireCareUnitAsync(careUnitId, cancellationToken);
        RequireFhirId(service.Id);
        if (await http.ReadAsync<F.HealthcareService>("HealthcareService/" + service.Id, cancellationToken) is not null)
        {
            throw Exists("healthcare service");
        }

        var fhir = FhirMapping.ToFhir(new HealthcareService(service.Id, careUnitId, service.Name, service.Description, service.DurationMinutes), FhirIdMap.Server);
        return FhirMapping.ToService(await http.UpdateAsync(fhir, null, cancellationToken), careUnitId, settings.DefaultServiceMinutes);
    }

    public async Task<HealthcareService?> UpdateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        await RequireWritesAsync([("HealthcareService", "update")], cancellationToken);
        var existing = await ServiceAtAsync(careUnitId, service.Id, cancellationToken);
        if (existing is null)
        {
            return null;
        }

        var replacement = FhirMapping.ToFhir(new HealthcareService(service.Id, careUnitId, service.Name, service.Description, service.DurationMinutes), FhirIdMap.Server);
        existing.Name = replacement.Name;
        existing.Comment = replacement.Comment;
        existing.Extension.RemoveAll(e => e.Url == FhirSystems.DurationExtension);
        existing.Extension.AddRange(replacement.Extension);
        return FhirMapping.ToService(await http.UpdateAsync(existing, existing.Meta?.VersionId, cancellationToken), careUnitId, settings.DefaultServiceMinutes);
    }

    public async Task<bool> DeleteHealthcareServiceAsync(string careUnitId, string serviceId, CancellationToken cancellationToken)
    {
        await RequireWritesAsync([("HealthcareService", "delete")], cancellationToken);
        return await ServiceAtAsync(careUnitId, serviceId, cancellationToken) is not null
            && await http.DeleteAsync("HealthcareService/" + serviceId, cancellationToken);
    }

    private async Task<F.HealthcareService?> ServiceAtAsync(string careUnitId, string serviceId, CancellationToken cancellationToken)
    {
        var service = FhirIds.IsValid(serviceId) ? await http.ReadAsync<F.HealthcareService>("HealthcareService/" + serviceId, cancellationToken) : null;
        return service is not null && service.Location.Any(l => FhirIds.OfReference(l.Reference, "Location") == careUnitId) ? service : null;
    }

    private async Task<F.Practitioner> WritePractitionerAsync(F.Practitioner? existing, string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        var replacement = (F.Practitioner)FhirMapping.ToFhir(new Resource(resource.Id, careUnitId, resource.Name, resource.Title, resource.Kind, resource.HsaId, resource.SePersonalNumber), FhirIdMap.Server);
        if (existing is null)
        {
            return await http.UpdateAsync(replacement, null, cancellationToken);
        }

        existing.Name = replacement.Name;
        existing.Identifier.RemoveAll(i => i.System is FhirSystems.HsaId or FhirSystems.SePersonalNumber);
        existing.Identifier.AddRange(replacement.Identifier);
        return await http.UpdateAsync(existing, existing.Meta?.VersionId, cancellationToken);
    }

    /// <summary>A PUT that creates the record under the admin's id (<see cref="FhirCapabilities.CreatesById"/>).</summary>
    private const string CreateById = "create-by-id";

    /// <summary>
    /// NOT_SUPPORTED unless the server declares every (type, interaction) the write needs; checked
    /// before anything is written.
    /// </summary>
    private async Task RequireWritesAsync((string Type, string Interaction)[] needs, CancellationToken cancellationToken)
    {
        var capabilities = await CapabilitiesAsync(cancellationToken);
        var missing = needs
            .Where(n => !(n.Interaction == CreateById ? capabilities.CreatesById(n.Type) : capabilities.Declares(n.Type, n.Interaction)))
            .Select(n => n.Interaction == CreateById ? $"{n.Type} update that creates" : $"{n.Type} {n.Interaction}")
            .ToList();
        if (missing.Count > 0)
        {
            throw new VardbroException(
                ErrorCodes.NotSupported,
                $"The EMR's FHIR server does not declare {string.Join(", ", missing)} in its CapabilityStatement: its master data is kept in the EHR itself.",
                "emr");
        }
    }

    private async Task RequireUniqueHsaIdAsync(NewResource resource, CancellationToken cancellationToken)
    {
        if (resource.HsaId is { } hsa
            && (await http.SearchFirstPageAsync<F.Practitioner>($"Practitioner?identifier={Q(FhirSystems.HsaId + "|" + hsa)}", cancellationToken)).Exists(p => p.Id != resource.Id))
        {
            throw new ConflictException(ErrorCodes.BadInput, "Another resource of this EMR has that HSA id.", "hsa_id");
        }
    }

    private async Task RequireCareUnitAsync(string careUnitId, CancellationToken cancellationToken)
    {
        if (await GetCareUnitAsync(careUnitId, cancellationToken) is null)
        {
            throw new VardbroException(ErrorCodes.NotFound, "No such care unit.", "care_unit_id");
        }
    }

    private static void RequirePractitioner(NewResource resource)
    {
        if (resource.Kind != ResourceKinds.Practitioner)
        {
            throw new VardbroException(ErrorCodes.NotSupported, "A FHIR EMR's resources are practitioners; rooms and equipment are managed in the EHR itself.", "kind");
        }
    }

    private static void RequireFhirId(string id)
    {
        if (!FhirIds.IsValid(id))
        {
            throw new VardbroException(ErrorCodes.InvalidField, "A FHIR server's ids are 1–64 of A–Z, a–z, 0–9, '-' and '.'.", "id");
        }
    }

    private static ConflictException Exists(string what) =>
        new(ErrorCodes.BadInput, $"A {what} with that id exists already.", "id");
}
