using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;

namespace Vardbro.Server.Features.Patients;

public static class PatientsEndpoints
{
    private static readonly string[] Genders = ["male", "female", "other", "unknown"];

    public static void MapPatients(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("/patients").WithTags("Patients");
        group.MapGet("/", SearchPatients)
            .WithName("SearchPatients")
            .WithSummary("Find patients by name prefix (case- and accent-insensitive), birth date, phone or e-mail; paged.")
            .Audited("patient.search", "patient");
        group.MapGet("/{patient_id}", GetPatient)
            .WithName("GetPatient")
            .WithSummary("One patient by any typed id the EMR accepts: emr_id:…, se_personal_number:…, a bare emr id, …")
            .Audited("patient.read", "patient");
        group.MapPost("/", CreatePatient)
            .WithName("CreatePatient")
            .WithSummary("Create a patient, or return the one the EMR already holds (200) with that national id.")
            .Audited("patient.create", "patient");
        group.MapPatch("/{patient_id}", UpdatePatient)
            .WithName("UpdatePatient")
            .WithSummary("Change a patient's first_name, last_name, phones, emails or address: each given field replaces its value; ids, birth date and gender cannot change (400).")
            .Audited("patient.update", "patient");
    }

    public static async Task<Ok<PatientResponse[]>> SearchPatients([AsParameters] CareUnitScope scope, [AsParameters] PatientSearchQuery query)
    {
        var (unit, page, ids) = await SearchAsync(scope, query);
        Http.LinkNext(scope.HttpContext, page.NextCursor);
        return TypedResults.Ok(page.Items.Select((x, i) => PatientResponse.From(ids[i], x, unit.TimeZone)).ToArray());
    }

    /// <summary>
    /// A patient search, checked and run, with every patient found in the audit scope: shared by the
    /// JSON route and its FHIR twin, which only render the result differently. The Vardbro ids of the
    /// patients found come with them, in the page's order.
    /// </summary>
    internal static async Task<(CareUnit Unit, PatientPage Page, IReadOnlyList<string> Ids)> SearchAsync(CareUnitScope scope, PatientSearchQuery query)
    {
        var (first_name, last_name, birth_date, phone, email, limit, cursor) = query;
        var unit = scope.Unit;
        var errors = new List<ApiError>();
        var first = Name(first_name, "first_name", errors);
        var last = Name(last_name, "last_name", errors);
        var birthDate = Http.Date(birth_date, "birth_date", errors);
        string? normalizedPhone = null;
        if (Http.Text(phone, "phone", 64, errors) is { } p)
        {
            normalizedPhone = PhoneNumbers.Normalize(p) ?? AddError(errors, "phone", "phone must be a phone number, e.g. +46701234567.");
        }

        var normalizedEmail = Http.Text(email, "email", 320, errors) is { } e ? PhoneNumbers.NormalizeEmail(e) : null;
        var pageSize = Http.Limit(limit);
        if (cursor is not null && !Cursors.IsWellFormed(cursor))
        {
            errors.AddRange(Cursors.Invalid().Errors);
        }

        Http.ThrowIfAny(errors);
        if (first is null && last is null && birthDate is null && normalizedPhone is null && normalizedEmail is null)
        {
            throw new VardbroException(ErrorCodes.MissingRequiredField, "Give at least one of first_name, last_name, birth_date, phone or email.", "first_name");
        }

        var page = await scope.Require<IPatientDirectory>().SearchPatientsAsync(
            new PatientQuery(first, last, birthDate, normalizedPhone, normalizedEmail), pageSize, cursor, scope.CancellationToken);
        var audit = scope.Audit;
        var ids = new string[page.Items.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = scope.VardbroPatientId(page.Items[i].EmrId);
            audit.AddPatient(ids[i]);
        }

        return (unit, page, ids);
    }

    public static async Task<Ok<PatientResponse>> GetPatient([AsParameters] CareUnitScope scope, string patient_id)
    {
        var (unit, patient, id) = await ReadAsync(scope, patient_id);
        return TypedResults.Ok(PatientResponse.From(id, patient, unit.TimeZone));
    }

    /// <summary>One patient by a path's typed id, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, string Id)> ReadAsync(CareUnitScope scope, string patient_id)
    {
        var unit = scope.Unit;
        var patient = await RequireAsync(scope, patient_id);
        var id = scope.VardbroPatientId(patient.EmrId);
        var audit = scope.Audit;
        audit.ResourceId = id;
        audit.AddPatient(id);
        return (unit, patient, id);
    }

    public static async Task<Results<Created<PatientResponse>, Ok<PatientResponse>>> CreatePatient([AsParameters] CareUnitScope scope, CreatePatientRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var definition = scope.Definition;
        var today = scope.Today;
        var errors = new List<ApiError>();
        var first = Http.Text(body.FirstName, "first_name", 256, errors, required: true);
        var last = Http.Text(body.LastName, "last_name", 256, errors, required: true);
        var birthDate = Http.Date(body.BirthDate, "birth_date", errors);
        if (birthDate > today)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "birth_date lies in the future.", "birth_date"));
        }

        var gender = Http.Text(body.Gender, "gender", 16, errors)?.ToLowerInvariant();
        if (gender is not null && !Genders.Contains(gender))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "gender must be one of male, female, other, unknown.", "gender"));
        }

        TypedId? nationalId = null;
        if (Http.Text(body.ExternalId, "external_id", 64, errors) is { } externalId)
        {
            try
            {
                nationalId = ExternalIds.ParseExternalId(externalId, definition.PatientIdTypes, today, "external_id");
            }
            catch (VardbroException ex)
            {
                errors.AddRange(ex.Errors);
            }
        }

        var phones = Phones(body.Phones, errors);
        var emails = Emails(body.Emails, errors);
        var address = Address(body.Address, errors);

        Http.ThrowIfAny(errors);
        var creation = await scope.Require<IPatientDirectory>().CreateOrReturnPatientAsync(
            scope.CareUnitId, new NewPatient(first!, last!, nationalId, birthDate, gender, phones, emails, address), scope.CancellationToken);
        var response = PatientResponse.From(scope.VardbroPatientId(creation.Patient.EmrId), creation.Patient, unit.TimeZone);
        var audit = scope.Audit;
        audit.ResourceId = response.Id;
        audit.AddPatient(response.Id);
        return creation.Created
            ? TypedResults.Created($"/api/emrs/{scope.Emr}/care-units/{scope.CareUnitId}/patients/emr_id:{Uri.EscapeDataString(response.EmrId)}", response)
            : TypedResults.Ok(response);
    }

    public static async Task<Ok<PatientResponse>> UpdatePatient([AsParameters] CareUnitScope scope, string patient_id, UpdatePatientRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var errors = new List<ApiError>();
        var first = body.FirstName is null ? null : Http.Text(body.FirstName, "first_name", 256, errors, required: true);
        var last = body.LastName is null ? null : Http.Text(body.LastName, "last_name", 256, errors, required: true);
        var phones = body.Phones is null ? null : Phones(body.Phones, errors);
        var emails = body.Emails is null ? null : Emails(body.Emails, errors);
        var address = Address(body.Address, errors);
        if (body is { FirstName: null, LastName: null, Phones: null, Emails: null, Address: null })
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "Nothing to change: give first_name, last_name, phones, emails or address.", "body"));
        }

        Http.ThrowIfAny(errors);
        var (_, before, id) = await ReadAsync(scope, patient_id);
        Unchanged(body.Id, id, "id", errors);
        Unchanged(body.EmrId, before.EmrId, "emr_id", errors);
        if (body.ExternalId is { } externalId && externalId != before.ExternalId
            && externalId != before.SePersonalNumber && externalId != before.NoPersonalNumber && externalId != before.NhsNumber)
        {
            errors.Add(Immutable("external_id"));
        }

        Unchanged(body.SePersonalNumber, before.SePersonalNumber, "se_personal_number", errors);
        Unchanged(body.NoPersonalNumber, before.NoPersonalNumber, "no_personal_number", errors);
        Unchanged(body.NhsNumber, before.NhsNumber, "nhs_number", errors);
        Unchanged(body.BirthDate, before.BirthDate?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), "birth_date", errors);
        Unchanged(body.Gender, before.Gender, "gender", errors);
        Http.ThrowIfAny(errors);

        var updated = await scope.Require<IPatientUpdates>().UpdatePatientAsync(
            before.EmrId, new PatientChange(first, last, phones, emails, address), scope.CancellationToken)
            ?? throw NotFound();
        return TypedResults.Ok(PatientResponse.From(id, updated, unit.TimeZone));
    }

    private static void Unchanged(string? given, string? current, string path, List<ApiError> errors)
    {
        if (given is not null && !string.Equals(given, current, StringComparison.Ordinal))
        {
            errors.Add(Immutable(path));
        }
    }

    private static ApiError Immutable(string path) =>
        new(ErrorCodes.InvalidField, $"{path} cannot be changed: a patient keeps its ids, and its national id's birth date and gender. Leave it out, or send it unchanged.", path);

    private static List<string> Phones(IReadOnlyList<string?>? values, List<ApiError> errors)
    {
        var phones = List(values, "phones", 10, 64, errors);
        for (var i = 0; i < phones.Count; i++)
        {
            if (PhoneNumbers.Normalize(phones[i]) is null)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "Not a phone number; give it with its country code, e.g. +46701234567.", $"phones[{i}]"));
            }
        }

        return phones;
    }

    private static List<string> Emails(IReadOnlyList<string?>? values, List<ApiError> errors)
    {
        var emails = List(values, "emails", 10, 320, errors);
        for (var i = 0; i < emails.Count; i++)
        {
            var at = emails[i].IndexOf('@', StringComparison.Ordinal);
            if (at < 1 || at == emails[i].Length - 1 || emails[i].Contains(' ', StringComparison.Ordinal))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "Not an e-mail address.", $"emails[{i}]"));
            }
        }

        return emails;
    }

    private static PostalAddress? Address(AddressBody? body, List<ApiError> errors) =>
        body is { } a
            ? new PostalAddress(
                Http.Text(a.Street, "address.street", 256, errors),
                Http.Text(a.PostalCode, "address.postal_code", 32, errors),
                Http.Text(a.City, "address.city", 128, errors),
                Http.Text(a.Country, "address.country", 64, errors))
            : null;

    private static List<string> List(IReadOnlyList<string?>? values, string path, int maxItems, int maxLength, List<ApiError> errors)
    {
        var result = new List<string>();
        if (values is null)
        {
            return result;
        }

        if (values.Count > maxItems)
        {
            errors.Add(new ApiError(ErrorCodes.MaxItemsExceeded, $"{path} takes at most {maxItems} items.", path));
            return result;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (Http.Text(values[i], $"{path}[{i}]", maxLength, errors, required: true) is { } value)
            {
                result.Add(value);
            }
        }

        return result;
    }

    /// <summary>The patient a typed id names; a malformed id is refused on <paramref name="path"/>, an unknown one is null.</summary>
    public static Task<Patient?> FindAsync(CareUnitScope scope, string rawId, string path)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return FindAsync(scope, Ids.Patient(scope.Definition, rawId, scope.Today, path));
    }

    /// <summary>The patient a parsed typed id names; null when unknown.</summary>
    public static Task<Patient?> FindAsync(CareUnitScope scope, TypedId id)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.Require<IPatientDirectory>().FindPatientAsync(id, scope.CancellationToken);
    }

    /// <summary>The patient a path's <c>patient_id</c> names, by any typed id the EMR accepts; 404 when absent.</summary>
    public static async Task<Patient> RequireAsync(CareUnitScope scope, string patientId) =>
        await FindAsync(scope, patientId, "patient_id") ?? throw NotFound();

    /// <summary>The patient a parsed <c>patient_id</c> names; 404 when absent.</summary>
    public static async Task<Patient> RequireAsync(CareUnitScope scope, TypedId id) =>
        await FindAsync(scope, id) ?? throw NotFound();

    /// <summary>The patient a path's <c>patient_id</c> names, recorded in the audit scope as read; 404 when absent.</summary>
    internal static async Task<Patient> RequireAuditedAsync(CareUnitScope scope, string patientId)
    {
        var patient = await RequireAsync(scope, patientId);
        scope.Audit.AddPatient(scope.VardbroPatientId(patient.EmrId));
        return patient;
    }

    private static VardbroException NotFound() => new(ErrorCodes.NotFound, "No patient with that id in this EMR.", "patient_id");

    /// <summary>
    /// One record of the patient the path names (a note, a document), with the patient and the record
    /// in the audit scope (JSON and FHIR routes); 404 naming <paramref name="path"/> when absent.
    /// </summary>
    internal static async Task<(CareUnit Unit, Patient Patient, T Record)> RequireRecordAsync<T>(
        CareUnitScope scope, string patientId, Func<CareUnit, Patient, Task<T?>> read, Func<T, string> idOf, string what, string path)
        where T : class
    {
        var unit = scope.Unit;
        var patient = await RequireAuditedAsync(scope, patientId);
        var record = await read(unit, patient)
            ?? throw new VardbroException(ErrorCodes.NotFound, $"No {what} with that id for this patient at this care unit.", path);
        scope.Audit.ResourceId = idOf(record);
        return (unit, patient, record);
    }

    /// <summary>A name criterion; one that folds to nothing (only accents or punctuation) would match everyone.</summary>
    private static string? Name(string? value, string path, List<ApiError> errors)
    {
        var name = Http.Text(value, path, 256, errors);
        if (name is not null && !TextFolding.Fold(name).Any(char.IsLetterOrDigit))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must contain at least one letter.", path));
            return null;
        }

        return name;
    }

    private static string? AddError(List<ApiError> errors, string path, string details)
    {
        errors.Add(new ApiError(ErrorCodes.InvalidField, details, path));
        return null;
    }
}
