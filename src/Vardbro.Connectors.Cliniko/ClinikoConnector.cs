using Microsoft.Extensions.Logging;
using Vardbro.Storage;

namespace Vardbro.Connectors.Cliniko;

/// <summary>
/// A Cliniko account through its REST API (v1). Care units are businesses, resources the
/// practitioners of a business, healthcare services the appointment types those practitioners
/// offer, timeslots Cliniko's available times, patients, individual appointments, treatment notes
/// (as drafts) and patient attachments. Record ids are Cliniko's (digit strings). Cliniko has no
/// master-data writes through Vardbro and no schedule writes: those are NOT_SUPPORTED.
/// </summary>
public sealed partial class ClinikoConnector :
    ICareUnitDirectory, IPatientDirectory, IPatientUpdates, IScheduling, IAppointmentBooking, IAppointmentLocator, IMedicalNotes, IDocuments, IHealthProbe
{
    private readonly ClinikoTransport transport;
    private readonly ClinikoHttp http;
    private readonly ClinikoSettings settings;
    private readonly StoreDb? store;
    private readonly TimeProvider time;

    /// <param name="store">
    /// The request's database context: bookings and patient creation are serialized through it
    /// (Cliniko itself accepts overlapping appointments and duplicate patients).
    /// </param>
    public ClinikoConnector(ClinikoTransport transport, StoreDb? store, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(time);
        this.transport = transport;
        http = new ClinikoHttp(transport, time, logger);
        settings = transport.Settings;
        this.store = store;
        this.time = time;
    }

    private DateTimeOffset Now() => time.GetUtcNow();

    /// <summary>Runs <paramref name="work"/> so that no other writer holding <paramref name="key"/> (in any Vardbro instance on this database) interleaves.</summary>
    private Task<T> SerializedAsync<T>(string key, Func<Task<T>> work, CancellationToken cancellationToken) =>
        SerializedWrites.RunAsync(
            store ?? throw new InvalidOperationException("The Cliniko connector writes only with the server's store, which serializes its bookings."),
            $"cliniko:{settings.Code}:{key}",
            work,
            cancellationToken);

    // ---- care units, resources, services -------------------------------------------------------

    public async Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken)
    {
        var businesses = await http.ListAsync("businesses", "businesses", cancellationToken);
        return businesses.Select(ToCareUnit).OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
    }

    public async Task<CareUnit?> GetCareUnitAsync(string careUnitId, CancellationToken cancellationToken) =>
        ClinikoIds.IsValid(careUnitId) && await http.GetAsync("businesses/" + careUnitId, cancellationToken) is { } business
            ? ToCareUnit(business)
            : null;

    private static CareUnit ToCareUnit(JsonElement business)
    {
        var zone = business.Text("time_zone_identifier") is { } z && TimeZones.TryFind(z, out _) ? z : TimeZones.Default;
        var place = string.Join(' ', new[] { business.Text("post_code"), business.Text("city") }.OfType<string>());
        var address = string.Join(", ", new[] { business.Text("address_1"), business.Text("address_2"), place.Length > 0 ? place : null }.OfType<string>());
        return new CareUnit(
            business.Id(),
            business.Text("business_name") ?? business.Text("display_name") ?? business.Id(),
            zone,
            address.Length > 0 ? address : null,
            RequiresConfirmation: false);
    }

    public async Task<IReadOnlyList<Resource>> ListResourcesAsync(string careUnitId, CancellationToken cancellationToken) =>
        (await PractitionersAsync(careUnitId, null, cancellationToken)).Select(p => ToResource(p, careUnitId)).ToList();

    public async Task<Resource?> FindResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken)
    {
        if (resourceId.Type != IdType.EmrId)
        {
            throw new VardbroException(ErrorCodes.NotSupported, "Cliniko knows practitioners only by their own ids (emr_id).", "resource_id");
        }

        if (!ClinikoIds.IsValid(resourceId.Value))
        {
            return null;
        }

        var match = await PractitionersAsync(careUnitId, resourceId.Value, cancellationToken);
        return match.Count == 0 ? null : ToResource(match[0], careUnitId);
    }

    /// <summary>The active practitioners of a business (one of them with <paramref name="practitionerId"/>).</summary>
    private async Task<List<JsonElement>> PractitionersAsync(string careUnitId, string? practitionerId, CancellationToken cancellationToken)
    {
        if (!ClinikoIds.IsValid(careUnitId))
        {
            return [];
        }

        var path = $"businesses/{careUnitId}/practitioners";
        if (practitionerId is not null)
        {
            path += "?" + ClinikoJson.Q("id:=" + practitionerId);
        }

        var practitioners = await http.ListAsync(path, "practitioners", cancellationToken);
        return practitioners.OrderBy(p => p.Id(), StringComparer.Ordinal).ToList();
    }

    private static Resource ToResource(JsonElement practitioner, string careUnitId)
    {
        var name = string.Join(' ', new[] { practitioner.Text("first_name"), practitioner.Text("last_name") }.OfType<string>());
        return new Resource(
            practitioner.Id(),
            careUnitId,
            name.Length > 0 ? name : practitioner.Text("label") ?? practitioner.Id(),
            practitioner.Text("designation") ?? practitioner.Text("title"),
            ResourceKinds.Practitioner,
            HsaId: null,
            SePersonalNumber: null);
    }

    public async Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken)
    {
        var offers = await OffersAsync(careUnitId, null, cancellationToken);
        return offers.SelectMany(o => o.Types).DistinctBy(t => t.Id).OrderBy(t => t.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>What each practitioner of the business (or just <paramref name="practitionerId"/>) offers.</summary>
    private async Task<List<(string PractitionerId, List<HealthcareService> Types)>> OffersAsync(string careUnitId, string? practitionerId, CancellationToken cancellationToken)
    {
        var practitioners = await PractitionersAsync(careUnitId, practitionerId, cancellationToken);
        var offers = new (string, List<HealthcareService>)[practitioners.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, practitioners.Count),
            new ParallelOptions { MaxDegreeOfParallelism = FanOut, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var id = practitioners[i].Id();
                var types = await http.ListAsync($"practitioners/{id}/appointment_types", "appointment_types", ct);
                offers[i] = (id, types.Where(t => t.Str("archived_at") is null).Select(t => ToService(t, careUnitId)).ToList());
            });
        return [.. offers];
    }

    private static HealthcareService ToService(JsonElement type, string careUnitId) =>
        new(type.Id(), careUnitId, type.Text("name") ?? type.Id(), type.Text("description"), type.Int("duration_in_minutes") ?? 0);

    /// <summary>How many Cliniko calls one Vardbro request runs at once (the rate gate still bounds them all).</summary>
    private const int FanOut = 4;

    // ---- patients ------------------------------------------------------------------------------

    public async Task<Patient?> FindPatientAsync(TypedId patientId, CancellationToken cancellationToken)
    {
        if (patientId.Type == IdType.EmrId)
        {
            return ClinikoIds.IsValid(patientId.Value) && await http.GetAsync("patients/" + patientId.Value, cancellationToken) is { } patient
                ? ToPatient(patient)
                : null;
        }

        var match = await FindByNationalIdAsync(patientId, cancellationToken);
        return match is null ? null : ToPatient(match.Value);
    }

    private async Task<JsonElement?> FindByNationalIdAsync(TypedId id, CancellationToken cancellationToken)
    {
        if (id.Type != settings.NationalIdType)
        {
            throw new VardbroException(ErrorCodes.PatientIdLookupTypeNotSupported, $"This EMR does not hold {IdTypes.Name(id.Type)} ids.", "patient_id");
        }

        var matches = await http.ListAsync("patients?" + ClinikoJson.Q($"{ClinikoSettings.OldReferenceIdField}:={id.Value}"), "patients", cancellationToken, maxPages: 1);
        return matches.Count == 0 ? null : matches.OrderBy(p => p.Id(), StringComparer.Ordinal).First();
    }

    /// <summary>
    /// Cliniko's name filters match case-insensitively but not across accents (<c>~strom</c> does not
    /// find Ström), so names are matched here after folding, and Cliniko is asked only for a superset:
    /// exact birth date and e-mail, and the name's letters that no accented letter folds to. A search
    /// with nothing Cliniko can narrow by reads the patient list (up to <see cref="MaxScanPages"/> pages).
    /// </summary>
    public async Task<PatientPage> SearchPatientsAsync(PatientQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        string[]? after = cursor is null ? null : Cursors.Decode(cursor, 3);
        var filters = new List<string>();
        if (query.BirthDate is { } birthDate)
        {
            filters.Add(ClinikoJson.Q("date_of_birth:=" + ClinikoJson.Day(birthDate)));
        }

        if (!string.IsNullOrWhiteSpace(query.Email))
        {
            filters.Add(ClinikoJson.Q("email:~" + query.Email.Trim()));
        }

        foreach (var (field, value) in new[] { ("last_name", query.LastName), ("first_name", query.FirstName) })
        {
            if (NamePattern(value) is { } pattern)
            {
                filters.Add(ClinikoJson.Q($"{field}:~~{pattern}"));
            }
        }

        var path = "patients" + (filters.Count > 0 ? "?" + string.Join('&', filters) : string.Empty);
        var found = await http.ListAsync(path, "patients", cancellationToken, MaxScanPages);
        var first = TextFolding.Fold(query.FirstName);
        var last = TextFolding.Fold(query.LastName);
        var phone = PhoneNumbers.Normalize(query.Phone);
        var email = query.Email is null ? null : PhoneNumbers.NormalizeEmail(query.Email);
        var matches = found.Select(ToPatient)
            .Select(p => (Patient: p, Last: TextFolding.Fold(p.LastName), First: TextFolding.Fold(p.FirstName)))
            .Where(x => x.Last.StartsWith(last, StringComparison.Ordinal) && x.First.StartsWith(first, StringComparison.Ordinal))
            .Where(x => query.BirthDate is null || x.Patient.BirthDate == query.BirthDate)
            .Where(x => email is null || x.Patient.Emails.Any(e => PhoneNumbers.NormalizeEmail(e) == email))
            .Where(x => query.Phone is null || x.Patient.Phones.Any(p => (PhoneNumbers.Normalize(p) ?? p) == (phone ?? query.Phone)))
            .OrderBy(x => x.Last, StringComparer.Ordinal).ThenBy(x => x.First, StringComparer.Ordinal).ThenBy(x => x.Patient.EmrId, StringComparer.Ordinal)
            .Where(x => after is null || Compare((x.Last, x.First, x.Patient.EmrId), (after[0], after[1], after[2])) > 0)
            .Take(limit + 1)
            .ToList();
        string? next = null;
        if (matches.Count > limit)
        {
            matches.RemoveAt(limit);
            var end = matches[^1];
            next = Cursors.Encode(end.Last, end.First, end.Patient.EmrId);
        }

        return new PatientPage(matches.ConvertAll(x => x.Patient), next);
    }

    private const int MaxScanPages = 50;

    private static int Compare((string, string, string) a, (string, string, string) b)
    {
        var c = string.CompareOrdinal(a.Item1, b.Item1);
        c = c != 0 ? c : string.CompareOrdinal(a.Item2, b.Item2);
        return c != 0 ? c : string.CompareOrdinal(a.Item3, b.Item3);
    }

    /// <summary>
    /// A <c>~~</c> pattern that every name whose folded form starts with the folded
    /// <paramref name="name"/> matches: letters that accented letters also fold to become <c>%</c>.
    /// Null when nothing is left to narrow by.
    /// </summary>
    internal static string? NamePattern(string? name)
    {
        var folded = TextFolding.Fold(name);
        var pattern = new StringBuilder("%");
        foreach (var c in folded)
        {
            if (SafeLetters.Contains(c))
            {
                pattern.Append(c);
            }
            else if (pattern[^1] != '%')
            {
                pattern.Append('%');
            }
        }

        if (pattern[^1] != '%')
        {
            pattern.Append('%');
        }

        return pattern.Length > 1 ? pattern.ToString() : null;
    }

    /// <summary>Letters no common accented letter (ö, é, š, ł, ñ, ß, ç, ř, ğ, þ, …) folds to.</summary>
    private const string SafeLetters = "bfjkmpqvwx0123456789";

    public async Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var key = patient.NationalId is { } nid
            ? $"patient:{IdTypes.Name(nid.Type)}:{nid.Value}"
            : $"patient:{TextFolding.Fold(patient.LastName)}:{patient.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
        return await SerializedAsync(key, async () =>
        {
            if (patient.NationalId is { } id)
            {
                if (await FindByNationalIdAsync(id, cancellationToken) is { } existing)
                {
                    return new PatientCreation(ToPatient(existing), Created: false);
                }
            }
            else if (patient.BirthDate is { } birthDate)
            {
                var candidates = await http.ListAsync("patients?" + ClinikoJson.Q("date_of_birth:=" + ClinikoJson.Day(birthDate)), "patients", cancellationToken, maxPages: 5);
                var same = candidates.Select(ToPatient).FirstOrDefault(c => patient.IsSamePersonAs(c));
                if (same is not null)
                {
                    return new PatientCreation(same, Created: false);
                }
            }

            var created = await http.PostAsync("patients", ToCliniko(patient), cancellationToken);
            return new PatientCreation(ToPatient(created) with { CareUnitId = careUnitId }, Created: true);
        }, cancellationToken);
    }


    /// <summary>
    /// Cliniko's "Update Patient" (sections/patients.md; PATCH in the newer docs, PUT in the older) with
    /// only the attributes the change names. Cliniko holds one e-mail address per patient, so a change to
    /// several is refused rather than cut.
    /// </summary>
    public async Task<Patient?> UpdatePatientAsync(string patientEmrId, PatientChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.Emails is { Count: > 1 })
        {
            throw new VardbroException(ErrorCodes.InvalidField, "This EMR keeps one e-mail address per patient; give at most one.", "emails");
        }

        if (!ClinikoIds.IsValid(patientEmrId) || await http.GetAsync("patients/" + patientEmrId, cancellationToken) is null)
        {
            return null;
        }

        var body = new JsonObject();
        if (change.FirstName is { } first)
        {
            body["first_name"] = first;
        }

        if (change.LastName is { } last)
        {
            body["last_name"] = last;
        }

        if (change.Phones is { } phones)
        {
            body["patient_phone_numbers"] = new JsonArray(phones.Select(p => (JsonNode)new JsonObject { ["phone_type"] = "Mobile", ["number"] = p }).ToArray());
        }

        if (change.Emails is { } emails)
        {
            body["email"] = emails.Count > 0 ? emails[0] : string.Empty;
        }

        if (change.Address is not null)
        {
            var address = change.AddressAfter(null);
            body["address_1"] = address?.Street ?? string.Empty;
            body["post_code"] = address?.PostalCode ?? string.Empty;
            body["city"] = address?.City ?? string.Empty;
            body["country"] = address?.Country ?? string.Empty;
        }

        var updated = await http.PatchAsync("patients/" + patientEmrId, body, cancellationToken)
            ?? await http.GetAsync("patients/" + patientEmrId, cancellationToken)
            ?? throw new EmrBadAnswerException("The EMR's updated patient could not be read back.");
        return ToPatient(updated);
    }

    private JsonObject ToCliniko(NewPatient patient)
    {
        var birthDate = patient.BirthDateOrDerived;
        var gender = patient.GenderOrDerived;
        var body = new JsonObject
        {
            ["first_name"] = patient.FirstName,
            ["last_name"] = patient.LastName,
            ["patient_phone_numbers"] = new JsonArray(patient.Phones.Select(p => (JsonNode)new JsonObject { ["phone_type"] = "Mobile", ["number"] = p }).ToArray()),
        };
        if (birthDate is { } date)
        {
            body["date_of_birth"] = ClinikoJson.Day(date);
        }

        if (gender is "male" or "female")
        {
            // sections/patients.md: `sex` replaces the deprecated `gender` ("Male", "Female", free text).
            body["sex"] = gender == "male" ? "Male" : "Female";
        }

        if (patient.Emails.Count > 0)
        {
            body["email"] = patient.Emails[0];
        }

        if (patient.Address is { } address)
        {
            body["address_1"] = address.Street ?? string.Empty;
            body["post_code"] = address.PostalCode ?? string.Empty;
            body["city"] = address.City ?? string.Empty;
            body["country"] = address.Country ?? string.Empty;
        }

        if (patient.NationalId is { } nid && nid.Type == settings.NationalIdType)
        {
            body[ClinikoSettings.OldReferenceIdField] = nid.Value;
        }

        return body;
    }

    private Patient ToPatient(JsonElement patient)
    {
        var reference = patient.Text(ClinikoSettings.OldReferenceIdField);
        string? national = reference is not null && settings.NationalIdType is { } type && Valid(type, reference) ? reference : null;
        var phones = patient.ValueKind == JsonValueKind.Object && patient.TryGetProperty("patient_phone_numbers", out var numbers) && numbers.ValueKind == JsonValueKind.Array
            ? numbers.EnumerateArray().Select(n => n.Text("number")).OfType<string>().ToList()
            : [];
        var street = patient.Text("address_1");
        var postCode = patient.Text("post_code");
        var city = patient.Text("city");
        var country = patient.Text("country");
        var created = patient.Instant("created_at") ?? DateTimeOffset.UnixEpoch;
        return new Patient(
            patient.Id(),
            string.Empty,
            patient.Str("first_name") ?? string.Empty,
            patient.Str("last_name") ?? string.Empty,
            patient.Date("date_of_birth"),
            GenderOf(patient),
            national is not null && settings.NationalIdType == IdType.SePersonalNumber ? national : null,
            national is not null && settings.NationalIdType == IdType.NoPersonalNumber ? national : null,
            national is not null && settings.NationalIdType == IdType.NhsNumber ? national : null,
            national,
            phones,
            patient.Text("email") is { } email ? [email] : [],
            (street ?? postCode ?? city ?? country) is null ? null : new PostalAddress(street, postCode, city, country),
            created,
            patient.Instant("updated_at") ?? created);
    }

    private static string? GenderOf(JsonElement patient) =>
        (patient.Text("sex") ?? patient.Text("gender"))?.ToLowerInvariant() switch
        {
            "male" => "male",
            "female" => "female",
            "other" => "other",
            _ => null,
        };

    private bool Valid(IdType type, string value) => type switch
    {
        IdType.SePersonalNumber => SwedishPersonalNumber.TryNormalize(value, TimeZones.LocalDate(Now(), TimeZoneInfo.Utc), out var se) && se == value,
        IdType.NoPersonalNumber => NorwegianPersonalNumber.TryNormalize(value, out var no) && no == value,
        IdType.NhsNumber => NhsNumber.TryNormalize(value, out var nhs) && nhs == value,
        _ => false,
    };

    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await http.PageAsync("businesses", "businesses", 1, 1, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException)
        {
            return false;
        }
    }
}
