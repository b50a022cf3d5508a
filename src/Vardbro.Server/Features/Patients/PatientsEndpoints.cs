using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;

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
    }

    public static async Task<Ok<PatientResponse[]>> SearchPatients(
        string emr, string care_unit_id, [AsParameters] PatientSearchQuery query, HttpContext http, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var (unit, page, ids) = await SearchAsync(emr, care_unit_id, query, http, connectors, cancellationToken);
        Http.LinkNext(http, page.NextCursor);
        return TypedResults.Ok(page.Items.Select((x, i) => PatientResponse.From(ids[i], x, unit.TimeZone)).ToArray());
    }

    /// <summary>
    /// A patient search, checked and run, with every patient found in the audit scope: shared by the
    /// JSON route and its FHIR twin, which only render the result differently. The Vardbro ids of the
    /// patients found come with them, in the page's order.
    /// </summary>
    internal static async Task<(CareUnit Unit, PatientPage Page, IReadOnlyList<string> Ids)> SearchAsync(
        string emr, string care_unit_id, PatientSearchQuery query, HttpContext http, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var (first_name, last_name, birth_date, phone, email, limit, cursor) = query;
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
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
        if (cursor is not null && (cursor.Length is 0 or > 2048))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor"));
        }

        Http.ThrowIfAny(errors);
        if (first is null && last is null && birthDate is null && normalizedPhone is null && normalizedEmail is null)
        {
            throw new VardbroException(ErrorCodes.MissingRequiredField, "Give at least one of first_name, last_name, birth_date, phone or email.", "first_name");
        }

        var page = await connectors.Require<IPatientDirectory>(emr).SearchPatientsAsync(
            new PatientQuery(first, last, birthDate, normalizedPhone, normalizedEmail), pageSize, cursor, cancellationToken);
        var audit = AuditScope.Of(http);
        var ids = new string[page.Items.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = Ids.VardbroPatientId(emr, page.Items[i].EmrId);
            audit.AddPatient(ids[i]);
        }

        return (unit, page, ids);
    }

    public static async Task<Ok<PatientResponse>> GetPatient(
        string emr, string care_unit_id, string patient_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, patient, id) = await ReadAsync(emr, care_unit_id, patient_id, http, connectors, time, cancellationToken);
        return TypedResults.Ok(PatientResponse.From(id, patient, unit.TimeZone));
    }

    /// <summary>One patient by a path's typed id, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, string Id)> ReadAsync(
        string emr, string care_unit_id, string patient_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var patient = await RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        var id = Ids.VardbroPatientId(emr, patient.EmrId);
        var audit = AuditScope.Of(http);
        audit.ResourceId = id;
        audit.AddPatient(id);
        return (unit, patient, id);
    }

    public static async Task<Results<Created<PatientResponse>, Ok<PatientResponse>>> CreatePatient(
        string emr, string care_unit_id, CreatePatientRequest body, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var definition = connectors.Definition(emr);
        var today = Http.Today(time, unit.TimeZone);
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

        var phones = List(body.Phones, "phones", 10, 64, errors);
        for (var i = 0; i < phones.Count; i++)
        {
            if (PhoneNumbers.Normalize(phones[i]) is null)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "Not a phone number; give it with its country code, e.g. +46701234567.", $"phones[{i}]"));
            }
        }

        var emails = List(body.Emails, "emails", 10, 320, errors);
        for (var i = 0; i < emails.Count; i++)
        {
            var at = emails[i].IndexOf('@', StringComparison.Ordinal);
            if (at < 1 || at == emails[i].Length - 1 || emails[i].Contains(' ', StringComparison.Ordinal))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "Not an e-mail address.", $"emails[{i}]"));
            }
        }

        PostalAddress? address = null;
        if (body.Address is { } a)
        {
            address = new PostalAddress(
                Http.Text(a.Street, "address.street", 256, errors),
                Http.Text(a.PostalCode, "address.postal_code", 32, errors),
                Http.Text(a.City, "address.city", 128, errors),
                Http.Text(a.Country, "address.country", 64, errors));
        }

        Http.ThrowIfAny(errors);
        var creation = await connectors.Require<IPatientDirectory>(emr).CreateOrReturnPatientAsync(
            care_unit_id, new NewPatient(first!, last!, nationalId, birthDate, gender, phones, emails, address), cancellationToken);
        var response = PatientResponse.From(Ids.VardbroPatientId(emr, creation.Patient.EmrId), creation.Patient, unit.TimeZone);
        var audit = AuditScope.Of(http);
        audit.ResourceId = response.Id;
        audit.AddPatient(response.Id);
        return creation.Created
            ? TypedResults.Created($"/api/emrs/{emr}/care-units/{care_unit_id}/patients/emr_id:{Uri.EscapeDataString(response.EmrId)}", response)
            : TypedResults.Ok(response);
    }

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

    /// <summary>The patient a path's <c>patient_id</c> names, by any typed id the EMR accepts; 404 when absent.</summary>
    public static async Task<Patient> RequireAsync(EmrConnectors connectors, string emr, CareUnit unit, string patientId, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectors);
        ArgumentNullException.ThrowIfNull(unit);
        var id = Ids.Patient(connectors.Definition(emr), patientId, Http.Today(time, unit.TimeZone), "patient_id");
        return await connectors.Require<IPatientDirectory>(emr).FindPatientAsync(id, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No patient with that id in this EMR.", "patient_id");
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
