using System.Globalization;
using System.Text;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// An EHR reached through its FHIR R4 REST API. Record ids are the server's logical ids; care units
/// are <c>Location</c>s, resources <c>Practitioner</c>s with a <c>PractitionerRole</c> there.
/// </summary>
public sealed partial class FhirConnector :
    ICareUnitDirectory, IPatientDirectory, IScheduling, IAppointmentBooking, IMedicalNotes, IDocuments, IHealthProbe, IMasterDataAdmin
{
    private readonly FhirHttp http;
    private readonly FhirSettings settings;
    private readonly TimeProvider time;

    public FhirConnector(HttpClient client, FhirSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        http = new FhirHttp(client);
        this.settings = settings;
        this.time = time;
    }

    private DateTimeOffset Now() => time.GetUtcNow();

    // ---- care units, resources, services -------------------------------------------------------

    public async Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken)
    {
        var locations = await http.SearchAllAsync<F.Location>("Location?_count=100", cancellationToken);

        // Rooms and wards are Locations too; care units are the ones not part of another.
        return locations.Where(l => l.PartOf is null && l.Id is not null)
            .Select(l => FhirMapping.ToCareUnit(l, settings.TimeZone))
            .OrderBy(c => c.Id, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<CareUnit?> GetCareUnitAsync(string careUnitId, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(careUnitId))
        {
            return null;
        }

        var location = await http.ReadAsync<F.Location>("Location/" + careUnitId, cancellationToken);
        return location is null ? null : FhirMapping.ToCareUnit(location, settings.TimeZone);
    }

    public async Task<IReadOnlyList<Resource>> ListResourcesAsync(string careUnitId, CancellationToken cancellationToken)
    {
        var roles = await RolesAtAsync(careUnitId, null, cancellationToken);
        var ids = roles.Select(r => FhirIds.OfReference(r.Practitioner?.Reference, "Practitioner")).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return [];
        }

        var practitioners = await http.SearchAllAsync<F.Practitioner>($"Practitioner?_id={Q(string.Join(',', ids))}&_count=100", cancellationToken);
        return practitioners
            .Select(p => FhirMapping.ToResource(p, roles.FirstOrDefault(r => FhirIds.OfReference(r.Practitioner?.Reference, "Practitioner") == p.Id), careUnitId))
            .OrderBy(r => r.Id, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<Resource?> FindResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken)
    {
        F.Practitioner? practitioner;
        if (resourceId.Type == IdType.EmrId)
        {
            practitioner = FhirIds.IsValid(resourceId.Value)
                ? await http.ReadAsync<F.Practitioner>("Practitioner/" + resourceId.Value, cancellationToken)
                : null;
        }
        else
        {
            var identifier = FhirMapping.NationalIdentifier(resourceId);
            practitioner = (await http.SearchAllAsync<F.Practitioner>($"Practitioner?identifier={Q(identifier.System + "|" + identifier.Value)}", cancellationToken, maxPages: 1)).FirstOrDefault();
        }

        if (practitioner?.Id is null)
        {
            return null;
        }

        var role = (await RolesAtAsync(careUnitId, practitioner.Id, cancellationToken)).FirstOrDefault();
        return role is null ? null : FhirMapping.ToResource(practitioner, role, careUnitId);
    }

    public async Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(careUnitId))
        {
            return [];
        }

        var services = await http.SearchAllAsync<F.HealthcareService>($"HealthcareService?location=Location/{careUnitId}&_count=100", cancellationToken);
        return services.Where(s => s.Id is not null)
            .Select(s => FhirMapping.ToService(s, careUnitId, settings.DefaultServiceMinutes))
            .OrderBy(s => s.Id, StringComparer.Ordinal)
            .ToList();
    }

    private async Task<List<F.PractitionerRole>> RolesAtAsync(string careUnitId, string? practitionerId, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(careUnitId))
        {
            return [];
        }

        var query = $"PractitionerRole?location=Location/{careUnitId}&_count=100";
        if (practitionerId is not null)
        {
            query += "&practitioner=Practitioner/" + practitionerId;
        }

        var roles = await http.SearchAllAsync<F.PractitionerRole>(query, cancellationToken);
        return roles.Where(r => r.Active != false).ToList();
    }

    // ---- patients ------------------------------------------------------------------------------

    public async Task<Patient?> FindPatientAsync(TypedId patientId, CancellationToken cancellationToken)
    {
        if (patientId.Type == IdType.EmrId)
        {
            if (!FhirIds.IsValid(patientId.Value))
            {
                return null;
            }

            var patient = await http.ReadAsync<F.Patient>("Patient/" + patientId.Value, cancellationToken);
            return patient is null ? null : FhirMapping.ToPatient(patient);
        }

        var match = await FindByNationalIdAsync(patientId, cancellationToken);
        return match is null ? null : FhirMapping.ToPatient(match);
    }

    public async Task<PatientPage> SearchPatientsAsync(PatientQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var offset = Offset(cursor);
        var parameters = new StringBuilder("Patient?_sort=family,given,_id");
        Add(parameters, "family", query.LastName);
        Add(parameters, "given", query.FirstName);
        Add(parameters, "birthdate", query.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Add(parameters, "phone", query.Phone);
        Add(parameters, "email", query.Email);
        var (items, next) = await PageAsync<F.Patient>(parameters, limit, offset, cancellationToken);
        return new PatientPage(items.ConvertAll(FhirMapping.ToPatient), next);
    }

    public async Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var fhir = FhirMapping.ToFhir(patient, careUnitId);
        if (patient.NationalId is { } nid)
        {
            if (settings.ConditionalCreate)
            {
                var identifier = FhirMapping.NationalIdentifier(nid);
                var (resource, created) = await http.CreateAsync(fhir, "identifier=" + Q(identifier.System + "|" + identifier.Value), cancellationToken);
                return new PatientCreation(FhirMapping.ToPatient(resource), created);
            }

            // A server without conditional create: look first. Two concurrent first-time creates
            // through such a server can both create; only the server can prevent that.
            var existing = await FindByNationalIdAsync(nid, cancellationToken);
            if (existing is not null)
            {
                return new PatientCreation(FhirMapping.ToPatient(existing), Created: false);
            }
        }
        else if (patient.BirthDate is { } birthDate)
        {
            var parameters = new StringBuilder("Patient?_count=50");
            Add(parameters, "family:exact", patient.LastName);
            Add(parameters, "birthdate", birthDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            var candidates = (await http.SearchAllAsync<F.Patient>(parameters.ToString(), cancellationToken, maxPages: 2)).ConvertAll(FhirMapping.ToPatient);
            var same = candidates.Find(c => SamePerson(c, patient));
            if (same is not null)
            {
                return new PatientCreation(same, Created: false);
            }
        }

        var (made, _) = await http.CreateAsync(fhir, null, cancellationToken);
        return new PatientCreation(FhirMapping.ToPatient(made), Created: true);
    }

    /// <summary>As the built-in EHR decides it: same names, same birth date, one shared phone or e-mail.</summary>
    private static bool SamePerson(Patient existing, NewPatient patient)
    {
        if (TextFolding.Fold(existing.FirstName) != TextFolding.Fold(patient.FirstName) || TextFolding.Fold(existing.LastName) != TextFolding.Fold(patient.LastName))
        {
            return false;
        }

        var phones = existing.Phones.Select(p => PhoneNumbers.Normalize(p) ?? p).ToHashSet(StringComparer.Ordinal);
        var emails = existing.Emails.Select(PhoneNumbers.NormalizeEmail).ToHashSet(StringComparer.Ordinal);
        return patient.Phones.Any(p => phones.Contains(PhoneNumbers.Normalize(p) ?? p)) || patient.Emails.Any(e => emails.Contains(PhoneNumbers.NormalizeEmail(e)));
    }

    private async Task<F.Patient?> FindByNationalIdAsync(TypedId id, CancellationToken cancellationToken)
    {
        var identifier = FhirMapping.NationalIdentifier(id);
        var matches = await http.SearchAllAsync<F.Patient>($"Patient?identifier={Q(identifier.System + "|" + identifier.Value)}", cancellationToken, maxPages: 1);
        return matches.FirstOrDefault();
    }

    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) => http.PingAsync(cancellationToken);

    // ---- paging --------------------------------------------------------------------------------

    private const string CursorPrefix = "fhir-offset:";

    /// <summary>One page by offset: asks for one more than <paramref name="limit"/> to know whether another page exists.</summary>
    private async Task<(List<T> Items, string? Next)> PageAsync<T>(StringBuilder query, int limit, int offset, CancellationToken cancellationToken)
        where T : F.Resource
    {
        query.Append(CultureInfo.InvariantCulture, $"&_count={limit + 1}&_offset={offset}");
        var bundle = await http.SearchAsync(query.ToString(), cancellationToken);
        var items = bundle.Entry.Where(e => e.Search?.Mode is null or F.Bundle.SearchEntryMode.Match).Select(e => e.Resource).OfType<T>().ToList();
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveRange(limit, items.Count - limit);
            next = Convert.ToBase64String(Encoding.UTF8.GetBytes(CursorPrefix + (offset + limit).ToString(CultureInfo.InvariantCulture))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }

        return (items, next);
    }

    private static int Offset(string? cursor)
    {
        if (cursor is null)
        {
            return 0;
        }

        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            if (text.StartsWith(CursorPrefix, StringComparison.Ordinal)
                && int.TryParse(text.AsSpan(CursorPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return offset;
            }
        }
        catch (FormatException)
        {
        }

        throw new VardbroException(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor");
    }

    private static void Add(StringBuilder query, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            query.Append('&').Append(name).Append('=').Append(Q(value));
        }
    }

    /// <summary>A query value, escaped (a '+' in an offset must not become a space).</summary>
    private static string Q(string value) => Uri.EscapeDataString(value);

    private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
