using Microsoft.AspNetCore.Mvc;
using Vardbro.Server.Emrs;
using F = Hl7.Fhir.Model;
using Interaction = Hl7.Fhir.Model.CapabilityStatement.TypeRestfulInteraction;
using SearchType = Hl7.Fhir.Model.SearchParamType;

namespace Vardbro.Server.Features.Fhir;

/// <summary>
/// <c>GET …/metadata</c>: what one EMR serves on the FHIR routes of a care unit, as a FHIR
/// CapabilityStatement. The routes are Vardbro's paths, not FHIR's <c>[base]/[type]/[id]</c>, so each
/// interaction's <c>documentation</c> names the path that answers it (relative to
/// <c>implementation.url</c>) and each search parameter is the JSON route's query parameter.
/// </summary>
public static class FhirMetadata
{
    private const string Paging = " Without limit (or _count) up to 1,000 in one Bundle, with it 1–200 a page; the next page in the Bundle's next link.";

    public static FhirResult GetCapabilityStatement([AsParameters] CareUnitScope scope, [FromServices] EmrCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var unit = scope.Unit;
        var links = new FhirLinks(scope);
        var capabilities = EmrConnectors.Capabilities(catalog, scope.Definition).ToHashSet(StringComparer.Ordinal);
        var rest = new F.CapabilityStatement.RestComponent
        {
            Mode = F.CapabilityStatement.RestfulCapabilityMode.Server,
            Documentation = "Reads only (GET). Every request sends x-leyr-client-id and x-leyr-client-secret; errors are OperationOutcomes. Paths are relative to implementation.url.",
        };

        // The care unit's master data is always there: without it no care unit resolves.
        rest.Resource.Add(Resource("Location", [(Interaction.Read, "(the path itself): the care unit, also at ../../Location/{care_unit_id} (the target of references); a room is read at resources/{resource_id}.")]));
        foreach (var type in new[] { "Practitioner", "Device" })
        {
            rest.Resource.Add(Resource(type, [
                (Interaction.Read, "resources/{resource_id}, by any typed id the EMR accepts (emr_id:…); references point at Practitioner/{resource_id} and Device/{resource_id}."),
                (Interaction.SearchType, "resources: every resource of the care unit (Practitioner, Location for rooms, Device for equipment), answered whole."),
            ]));
        }

        rest.Resource.Add(Resource("HealthcareService", [
            (Interaction.Read, "healthcare-services/{healthcare_service_id}, also HealthcareService/{healthcare_service_id}."),
            (Interaction.SearchType, "healthcare-services: every service of the care unit, answered whole."),
        ]));

        if (capabilities.Contains("patients"))
        {
            rest.Resource.Add(Resource("Patient", [
                (Interaction.Read, "patients/{patient_id}, by any typed id the EMR accepts (emr_id:…, se_personal_number:…), also Patient/{patient_id}."),
                (Interaction.SearchType, "patients?…: at least one of the parameters." + Paging),
            ], ("first_name", SearchType.String), ("last_name", SearchType.String), ("birth_date", SearchType.Date), ("phone", SearchType.Token), ("email", SearchType.Token)));
        }

        if (capabilities.Contains("timeslots"))
        {
            rest.Resource.Add(Resource("Schedule", [(Interaction.Read, "Schedule/{resource_id}: the Schedule a resource's Slots name.")]));
            rest.Resource.Add(Resource("Slot", [
                (Interaction.Read, "timeslots/{slot_id}?start=…&end=…&resource_id=…: the Slot's fullUrl; 404 once it is taken."),
                (Interaction.SearchType, "timeslots?…: free slots (default: the coming 14 days, at most 90), answered whole."),
            ], ("start", SearchType.Date), ("end", SearchType.Date), ("resource_id", SearchType.Token), ("healthcare_service_id", SearchType.Token)));
        }

        if (capabilities.Contains("appointments"))
        {
            rest.Resource.Add(Resource("Appointment", [
                (Interaction.Read, "appointments/{appointment_id}."),
                (Interaction.SearchType, "appointments?…: the care unit's appointments." + Paging),
            ], ("patient_id", SearchType.Token), ("resource_id", SearchType.Token), ("start", SearchType.Date), ("end", SearchType.Date), ("status", SearchType.Token)));
        }

        var notes = capabilities.Contains("medical_notes");
        var documents = capabilities.Contains("documents");
        if (notes || documents)
        {
            var paths = string.Join(" and ", new[] { notes ? "medical-notes" : null, documents ? "documents" : null }.OfType<string>());
            rest.Resource.Add(Resource("DocumentReference", [
                (Interaction.Read, $"patients/{{patient_id}}/{{{paths}}}/{{id}}."),
                (Interaction.SearchType, $"patients/{{patient_id}}/{{{paths}}}: the patient's records at this care unit, newest first." + Paging),
            ]));
        }

        var statement = new F.CapabilityStatement
        {
            Status = F.PublicationStatus.Active,
            Date = new F.FhirDateTime(scope.Time.GetUtcNow()).Value,
            Name = "VardbroFhirRoutes",
            Publisher = "Vardbro",
            Kind = F.CapabilityStatementKind.Instance,
            Software = new F.CapabilityStatement.SoftwareComponent { Name = "Vardbro" },
            Implementation = new F.CapabilityStatement.ImplementationComponent
            {
                Description = $"{scope.Definition.Name}, care unit {unit.Name}: Vardbro's FHIR-shaped routes",
                Url = links.Base,
            },
            FhirVersion = F.FHIRVersion.N4_0_1,
            Format = ["json"],
            Rest = [rest],
        };
        return new FhirResult(statement);
    }

    private static F.CapabilityStatement.ResourceComponent Resource(string type, (Interaction Code, string Path)[] interactions, params (string Name, SearchType Type)[] search)
    {
        var resource = new F.CapabilityStatement.ResourceComponent { Type = type };
        foreach (var (code, path) in interactions)
        {
            resource.Interaction.Add(new F.CapabilityStatement.ResourceInteractionComponent { Code = code, Documentation = path });
        }

        foreach (var (name, kind) in search)
        {
            resource.SearchParam.Add(new F.CapabilityStatement.SearchParamComponent { Name = name, Type = kind, Documentation = "As the JSON route's query parameter of that name." });
        }

        return resource;
    }
}
