using System.Globalization;
using Vardbro.Connectors;
using Vardbro.Connectors.Fhir;
using F = Hl7.Fhir.Model;

namespace Vardbro.Server.Features.Fhir;

/// <summary>
/// The absolute URLs of one care unit's FHIR routes, for one request (scheme and host as the client
/// reached the server). Entry <c>fullUrl</c>s and every reference in the output are the URL of the
/// route that answers the resource, so a client follows them with the same credentials. A reference is
/// written <c>[base]/[type]/[typed id]</c> (routes of their own), so its type reads from its URL as
/// in any FHIR reference: readers (Firely's validator among them) resolve references inside a Bundle
/// by that shape, and take one without it for the entry that holds it.
/// </summary>
/// <remarks>
/// <see cref="FhirMapping"/> writes references as <c>Type/fhir-id</c>, and a stand-in FHIR id cannot be
/// turned back into the EHR id a route takes. <see cref="Ids"/> therefore notes each id it hands out,
/// and <see cref="Resolve{T}"/> rewrites those references with the ids noted.
/// </remarks>
public sealed class FhirLinks
{
    private readonly string emrUrl;
    private readonly Dictionary<string, string> patients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> others = new(StringComparer.Ordinal);

    public FhirLinks(CareUnitScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var request = scope.HttpContext.Request;
        emrUrl = $"{request.Scheme}://{request.Host}{request.PathBase}/api/fhir/emrs/{Uri.EscapeDataString(scope.Emr)}";
        Base = CareUnit(scope.CareUnitId);
        var emr = scope.Emr;
        Ids = new FhirIdMap(
            emr,
            emrId => Note(patients, Api.Ids.VardbroPatientId(emr, emrId), emrId),
            id => Note(others, FhirIds.For(id), id));
    }

    /// <summary>The FHIR ids of the output; each one handed out is remembered for <see cref="Resolve{T}"/>.</summary>
    public FhirIdMap Ids { get; }

    /// <summary>The care unit's own route: <c>…/api/fhir/emrs/{emr}/care-units/{care_unit_id}</c>.</summary>
    public string Base { get; }

    public string CareUnit(string careUnitId) => $"{emrUrl}/care-units/{Uri.EscapeDataString(careUnitId)}";

    public string Patient(string patientEmrId) => $"{Base}/patients/emr_id:{Uri.EscapeDataString(patientEmrId)}";

    public string Resource(string resourceId) => $"{Base}/resources/emr_id:{Uri.EscapeDataString(resourceId)}";

    /// <summary>The URL a reference to <paramref name="type"/> points at: <c>[base]/[type]/emr_id:[id]</c>.</summary>
    public string Referenced(string type, string id) => $"{Base}/{type}/emr_id:{Uri.EscapeDataString(id)}";

    /// <summary>A referenced care unit: <c>…/emrs/{emr}/Location/{care_unit_id}</c>, for any care unit of the EMR.</summary>
    public string Location(string careUnitId) => $"{emrUrl}/Location/{Uri.EscapeDataString(careUnitId)}";

    public string HealthcareService(string serviceId) => $"{Base}/healthcare-services/{Uri.EscapeDataString(serviceId)}";

    public string Appointment(string appointmentId) => $"{Base}/appointments/{Uri.EscapeDataString(appointmentId)}";

    public string MedicalNote(string patientEmrId, string noteId) => $"{Patient(patientEmrId)}/medical-notes/{Uri.EscapeDataString(noteId)}";

    public string Document(string patientEmrId, string documentId) => $"{Patient(patientEmrId)}/documents/{Uri.EscapeDataString(documentId)}";

    /// <summary>
    /// A free slot's read: its id, with the query that lists it again (its own start and end, its
    /// resource and service), since a slot is computed, not stored.
    /// </summary>
    public string Slot(string slotId, Timeslot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        var query = new List<KeyValuePair<string, string?>>
        {
            new("start", slot.Start.ToString("O", CultureInfo.InvariantCulture)),
            new("end", slot.End.ToString("O", CultureInfo.InvariantCulture)),
            new("resource_id", "emr_id:" + slot.ResourceId),
        };
        if (slot.HealthcareServiceId is { } service)
        {
            query.Add(new("healthcare_service_id", service));
        }

        return $"{Base}/timeslots/{Uri.EscapeDataString(slotId)}{QueryString.Create(query)}";
    }

    /// <summary>
    /// Rewrites every <c>Type/fhir-id</c> reference in <paramref name="element"/> to the absolute URL of
    /// the route that answers it, and names its type. References the mapping never writes (absolute,
    /// contained, or to an id <see cref="Ids"/> did not hand out) are left as they are.
    /// </summary>
    public T Resolve<T>(T element)
        where T : F.Base
    {
        ArgumentNullException.ThrowIfNull(element);
        if (element is F.ResourceReference reference)
        {
            Rewrite(reference);
        }

        foreach (var (_, value) in element.EnumerateElements())
        {
            if (value is F.Base child)
            {
                Resolve(child);
            }
            else if (value is IEnumerable<F.Base> children)
            {
                foreach (var item in children)
                {
                    Resolve(item);
                }
            }
        }

        return element;
    }

    private void Rewrite(F.ResourceReference reference)
    {
        var text = reference.Reference;
        var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (text is null || slash <= 0 || text.Contains("://", StringComparison.Ordinal))
        {
            return;
        }

        var (type, id) = (text[..slash], text[(slash + 1)..]);
        var url = type switch
        {
            "Patient" => patients.TryGetValue(id, out var patient) ? Referenced(type, patient) : null,

            // The mapping refers to a Location only for a care unit (a room's partOf, a record's place).
            "Location" => others.TryGetValue(id, out var unit) ? Location(unit) : null,
            "Practitioner" or "Device" or "Schedule" => others.TryGetValue(id, out var resource) ? Referenced(type, resource) : null,
            "HealthcareService" => others.TryGetValue(id, out var service) ? $"{Base}/{type}/{Uri.EscapeDataString(service)}" : null,
            _ => null,
        };
        if (url is not null)
        {
            reference.Reference = url;
            reference.Type = type;
        }
    }

    private static string Note(Dictionary<string, string> ids, string fhirId, string emrId)
    {
        ids[fhirId] = emrId;
        return fhirId;
    }
}
