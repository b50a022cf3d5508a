using System.Globalization;
using System.Text;
using Vardbro.Storage;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// An EHR reached through its FHIR R4 REST API. Record ids are the server's logical ids; care units
/// are <c>Location</c>s, resources <c>Practitioner</c>s with a <c>PractitionerRole</c> there.
/// </summary>
public sealed partial class FhirConnector :
    ICareUnitDirectory, IPatientDirectory, IPatientUpdates, IScheduling, IAppointmentBooking, IAppointmentLocator, IMedicalNotes, IDocuments, IHealthProbe, IMasterDataAdmin
{
    private readonly FhirHttp http;
    private readonly FhirSettings settings;
    private readonly TimeProvider time;
    private readonly CursorSigner cursors;
    private readonly StoreDb? store;

    /// <param name="store">
    /// The request's database context: on a server without conditional create, patient creation is
    /// serialized through it, so that Vardbro instances on one database make one patient per person.
    /// Without it (tests of the protocol alone) such creates are looked up first, unserialized.
    /// </param>
    public FhirConnector(HttpClient client, FhirSettings settings, TimeProvider time, CursorSigner? cursors = null, StoreDb? store = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        http = new FhirHttp(client, settings);
        this.cursors = cursors ?? CursorSigner.ProcessDefault;
        this.settings = settings;
        this.time = time;
        this.store = store;
    }

    private DateTimeOffset Now() => time.GetUtcNow();

    /// <summary>What the server declares it can do (its CapabilityStatement, cached per server).</summary>
    private Task<FhirCapabilities> CapabilitiesAsync(CancellationToken cancellationToken) =>
        FhirCapabilities.GetAsync(http, settings.BaseUrl, time, cancellationToken);

    // ---- care units, resources, services -------------------------------------------------------

    public async Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken)
    {
        var locations = await http.SearchAllAsync<F.Location>(settings.CareUnitQuery, cancellationToken);

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
            practitioner = (await http.SearchFirstPageAsync<F.Practitioner>($"Practitioner?identifier={Q(identifier.System + "|" + identifier.Value)}", cancellationToken)).FirstOrDefault();
        }

        if (practitioner?.Id is null)
        {
            return null;
        }

        var role = (await RolesAtAsync(careUnitId, practitioner.Id, cancellationToken)).FirstOrDefault();
        return role is null ? null : FhirMapping.ToResource(practitioner, role, careUnitId);
    }

    public async Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken) =>
        (await ServicesAtAsync(careUnitId, cancellationToken))
            .Select(s => FhirMapping.ToService(s, careUnitId, settings.DefaultServiceMinutes))
            .OrderBy(s => s.Id, StringComparer.Ordinal)
            .ToList();

    /// <summary>The care unit's HealthcareServices as the server has them (their types name the Slots' service types).</summary>
    private async Task<List<F.HealthcareService>> ServicesAtAsync(string careUnitId, CancellationToken cancellationToken) =>
        FhirIds.IsValid(careUnitId)
            ? (await http.SearchAllAsync<F.HealthcareService>($"HealthcareService?location=Location/{careUnitId}&_count=100", cancellationToken)).Where(s => s.Id is not null).ToList()
            : [];

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
        var sorted = settings.SortAlways || (await CapabilitiesAsync(cancellationToken)).Sorts("Patient");
        var parameters = new StringBuilder(sorted ? "Patient?_sort=family,given,_id" : "Patient?");
        Add(parameters, "family", query.LastName);
        Add(parameters, "given", query.FirstName);
        Add(parameters, "birthdate", query.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Add(parameters, "phone", query.Phone);
        Add(parameters, "email", query.Email);
        var (items, next) = await PageAsync<F.Patient>(parameters, limit, cursor, cancellationToken);
        var patients = items.ConvertAll(FhirMapping.ToPatient);
        if (!sorted && cursor is null && next is null)
        {
            // The server does not sort, but this page holds every match: Vardbro orders it as promised.
            patients = [.. patients.OrderBy(p => TextFolding.Fold(p.LastName), StringComparer.Ordinal).ThenBy(p => TextFolding.Fold(p.FirstName), StringComparer.Ordinal).ThenBy(p => p.EmrId, StringComparer.Ordinal)];
        }

        return new PatientPage(patients, next);
    }

    public async Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var fhir = FhirMapping.ToFhir(patient, careUnitId);
        if (patient.NationalId is { } nid && settings.ConditionalCreate && (await CapabilitiesAsync(cancellationToken)).ConditionalCreate("Patient"))
        {
            var identifier = FhirMapping.NationalIdentifier(nid);
            var (resource, created) = await http.CreateAsync(fhir, "identifier=" + Q(identifier.System + "|" + identifier.Value), cancellationToken);
            return new PatientCreation(FhirMapping.ToPatient(resource), created);
        }

        // A server without conditional create (Millennium): look, then create, one writer at a time
        // per person across the Vardbro instances on this database. A patient the EHR registers by
        // other means at the same moment is outside that lock (README "Connecting a FHIR R4 server").
        if (store is null)
        {
            return await LookThenCreateAsync(patient, fhir, cancellationToken);
        }

        var key = patient.NationalId is { } id
            ? $"fhir:{settings.BaseUrl.AbsoluteUri}:patient:{IdTypes.Name(id.Type)}:{id.Value}"
            : $"fhir:{settings.BaseUrl.AbsoluteUri}:patient:{TextFolding.Fold(patient.LastName)}:{patient.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
        return await SerializedWrites.RunAsync(store, key, () => LookThenCreateAsync(patient, fhir, cancellationToken), cancellationToken);
    }

    private async Task<PatientCreation> LookThenCreateAsync(NewPatient patient, F.Patient fhir, CancellationToken cancellationToken)
    {
        if (patient.NationalId is { } nid)
        {
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
            var candidates = (await http.SearchAllAsync<F.Patient>(parameters.ToString(), cancellationToken)).ConvertAll(FhirMapping.ToPatient);
            var same = candidates.Find(c => patient.IsSamePersonAs(c));
            if (same is not null)
            {
                return new PatientCreation(same, Created: false);
            }
        }

        var (made, _) = await http.CreateAsync(fhir, null, cancellationToken);
        return new PatientCreation(FhirMapping.ToPatient(made), Created: true);
    }


    /// <summary>
    /// A versioned update: read the Patient, change only what <paramref name="change"/> names (the official
    /// name's parts, the phone and e-mail contact points, the addresses), PUT it back conditional on the
    /// version read. Someone else's change in between is read again and the change re-applied to it, a
    /// few times, before the update gives up with a conflict.
    /// </summary>
    public async Task<Patient?> UpdatePatientAsync(string patientEmrId, PatientChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (!FhirIds.IsValid(patientEmrId))
        {
            return null;
        }

        // Millennium, for one, offers no Patient update (only a JSON Patch of a few fields): refused
        // before anything is read or written, as master data is on such servers.
        if (!(await CapabilitiesAsync(cancellationToken)).Declares("Patient", "update"))
        {
            throw new VardbroException(
                ErrorCodes.NotSupported, "The EMR's FHIR server does not declare Patient update in its CapabilityStatement: contacts are changed in the EHR itself.", "patient_id");
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var fhir = await http.ReadAsync<F.Patient>("Patient/" + patientEmrId, cancellationToken);
            if (fhir is null)
            {
                return null;
            }

            FhirMapping.Apply(fhir, change);
            try
            {
                return FhirMapping.ToPatient(await http.UpdateAsync(fhir, fhir.Meta?.VersionId, cancellationToken));
            }
            catch (FhirVersionConflictException)
            {
                // Changed by someone else since it was read: apply the change to the newer version.
            }
        }

        throw new ConflictException(ErrorCodes.BadInput, "The EMR's record of this patient kept changing while it was updated; try again.", "patient_id");
    }

    private async Task<F.Patient?> FindByNationalIdAsync(TypedId id, CancellationToken cancellationToken)
    {
        var identifier = FhirMapping.NationalIdentifier(id);
        var matches = await http.SearchFirstPageAsync<F.Patient>($"Patient?identifier={Q(identifier.System + "|" + identifier.Value)}", cancellationToken);
        return matches.FirstOrDefault();
    }

    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) => http.PingAsync(cancellationToken);

    // ---- paging --------------------------------------------------------------------------------

    /// <summary>
    /// One page of <paramref name="limit"/> matches of <paramref name="query"/> (fewer only on the last),
    /// by the server's own paging: the first request asks for <c>_count</c> = limit, and every further
    /// one is a <c>next</c> link the server gave. A server that caps its pages below the limit is read
    /// on until the page is full; one that returns more than asked keeps the rest for the next page.
    /// The cursor is the server page to read next and how many of its matches were already given,
    /// signed, so that a client can neither point Vardbro at another host or path nor widen the search.
    /// </summary>
    private async Task<(List<T> Items, string? Next)> PageAsync<T>(StringBuilder query, int limit, string? cursor, CancellationToken cancellationToken)
        where T : F.Resource
    {
        string url;
        var skip = 0;
        if (cursor is null)
        {
            Add(query, "_count", limit.ToString(CultureInfo.InvariantCulture));
            url = query.ToString();
        }
        else
        {
            var parts = cursors.Verify(cursor, 3);
            if (parts[0] != typeof(T).Name || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out skip))
            {
                throw Cursors.Invalid();
            }

            url = parts[1];
        }

        var items = new List<T>();
        for (var page = 0; ; page++)
        {
            if (page == settings.MaxPages)
            {
                throw new EmrBadAnswerException($"The EMR needed more than {settings.MaxPages} pages for one page of {typeof(T).Name}s; raise Emrs:{settings.Code}:MaxPages if that is expected.");
            }

            var bundle = await http.SearchAsync(url, cancellationToken);
            var matches = FhirHttp.Matches<T>(bundle);
            var next = http.NextLink(bundle);
            var taken = Math.Clamp(Math.Min(limit - items.Count, matches.Count - skip), 0, limit);
            items.AddRange(matches.Skip(skip).Take(taken));
            if (skip + taken < matches.Count)
            {
                return (items, cursors.Sign(typeof(T).Name, url, (skip + taken).ToString(CultureInfo.InvariantCulture)));
            }

            if (next is null)
            {
                return (items, null);
            }

            if (items.Count == limit)
            {
                return (items, cursors.Sign(typeof(T).Name, next, "0"));
            }

            (url, skip) = (next, 0);
        }
    }

    private static void Add(StringBuilder query, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            if (query[^1] != '?')
            {
                query.Append('&');
            }

            query.Append(name).Append('=').Append(Q(value));
        }
    }

    /// <summary>A query value, escaped (a '+' in an offset must not become a space).</summary>
    private static string Q(string value) => Uri.EscapeDataString(value);

    private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
