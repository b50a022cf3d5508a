using System.ComponentModel.DataAnnotations;
using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Patients;

/// <summary>The query of a patient search, shared by the JSON route and its FHIR twin.</summary>
public sealed record PatientSearchQuery(
    string? first_name, string? last_name, string? birth_date, string? phone, string? email, string? limit, string? cursor);

public sealed record AddressBody(string? Street, string? PostalCode, string? City, string? Country);

[OpenApiExample("""{"first_name": "Tolvan", "last_name": "Tolvansson", "external_id": "se_personal_number:191212121212", "phones": ["+46701234567"], "emails": ["tolvan@example.com"]}""")]
public sealed record CreatePatientRequest(
    [property: Required] string? FirstName,
    [property: Required] string? LastName,
    string? ExternalId,
    string? BirthDate,
    [property: AllowedValues("male", "female", "other", "unknown")] string? Gender,
    IReadOnlyList<string?>? Phones,
    IReadOnlyList<string?>? Emails,
    AddressBody? Address);

/// <summary>
/// A patient update: each given field replaces the patient's value. The ids and the fields derived from
/// the national id are listed so that a body holding the patient as read back is accepted as long as
/// they are unchanged, and refused (400) when it would change them.
/// </summary>
public sealed record UpdatePatientRequest(
    string? FirstName,
    string? LastName,
    IReadOnlyList<string?>? Phones,
    IReadOnlyList<string?>? Emails,
    AddressBody? Address,
    string? Id,
    string? EmrId,
    string? ExternalId,
    string? SePersonalNumber,
    string? NoPersonalNumber,
    string? NhsNumber,
    string? BirthDate,
    string? Gender);

public sealed record PatientResponse(
    string Id,
    string EmrId,
    string? CareUnitId,
    string FirstName,
    string LastName,
    DateOnly? BirthDate,
    [property: AllowedValues("male", "female", "other", "unknown")] string? Gender,
    string? SePersonalNumber,
    string? NoPersonalNumber,
    string? NhsNumber,
    string? ExternalId,
    IReadOnlyList<string> Phones,
    IReadOnlyList<string> Emails,
    AddressBody? Address,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The patient as answered, under its Vardbro id (<see cref="Ids.VardbroPatientId"/>), which the caller has already computed for the audit.</summary>
    public static PatientResponse From(string id, Patient x, string timeZone)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(
            id, x.EmrId, x.CareUnitId.Length > 0 ? x.CareUnitId : null, x.FirstName, x.LastName, x.BirthDate, x.Gender,
            x.SePersonalNumber, x.NoPersonalNumber, x.NhsNumber, x.ExternalId, x.Phones, x.Emails,
            x.Address is { } a ? new AddressBody(a.Street, a.PostalCode, a.City, a.Country) : null,
            Http.Local(x.CreatedAt, timeZone), Http.Local(x.UpdatedAt, timeZone));
    }
}
