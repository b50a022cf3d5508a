namespace Vardbro.Connectors;

/// <summary>A care unit (clinic, ward) of an EHR. <see cref="Id"/> is the EHR's own id.</summary>
public sealed record CareUnit(
    string Id,
    string Name,
    string TimeZone,
    string? Address,
    bool RequiresConfirmation);

/// <summary>A practitioner, room or piece of equipment that appointments can be booked with.</summary>
public sealed record Resource(
    string Id,
    string CareUnitId,
    string Name,
    string? Title,
    string Kind,
    string? HsaId,
    string? SePersonalNumber);

public static class ResourceKinds
{
    public const string Practitioner = "practitioner";
    public const string Room = "room";
    public const string Equipment = "equipment";

    public static bool IsKnown(string kind) => kind is Practitioner or Room or Equipment;
}

public sealed record HealthcareService(
    string Id,
    string CareUnitId,
    string Name,
    string? Description,
    int DurationMinutes)
{
    public const int MinDurationMinutes = 5;

    /// <summary>
    /// The longest service, and so the longest appointment (an appointment is one service-length
    /// timeslot): the built-in EHR's overlap queries rely on it to bound their index range.
    /// </summary>
    public const int MaxDurationMinutes = 480;
}

public sealed record PostalAddress(string? Street, string? PostalCode, string? City, string? Country);

/// <summary>A patient as the EHR holds it. <see cref="EmrId"/> is the EHR's own id.</summary>
public sealed record Patient(
    string EmrId,
    string CareUnitId,
    string FirstName,
    string LastName,
    DateOnly? BirthDate,
    string? Gender,
    string? SePersonalNumber,
    string? NoPersonalNumber,
    string? NhsNumber,
    string? ExternalId,
    IReadOnlyList<string> Phones,
    IReadOnlyList<string> Emails,
    PostalAddress? Address,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>
/// What a patient update changes: each non-null field replaces the patient's value (an empty list
/// removes every phone or e-mail; an address with every part null removes the address).
/// </summary>
public sealed record PatientChange(
    string? FirstName,
    string? LastName,
    IReadOnlyList<string>? Phones,
    IReadOnlyList<string>? Emails,
    PostalAddress? Address)
{
    /// <summary>The address to keep after the change: the new one, none when it is all empty, else the old one.</summary>
    public PostalAddress? AddressAfter(PostalAddress? old) =>
        Address is null ? old
        : Address is { Street: null, PostalCode: null, City: null, Country: null } ? null
        : Address;
}

/// <summary>Search criteria; names are matched by folded prefix, the rest exactly after normalising.</summary>
public sealed record PatientQuery(
    string? FirstName,
    string? LastName,
    DateOnly? BirthDate,
    string? Phone,
    string? Email);

/// <summary>A page of patients and the opaque position after its last one (null: no more).</summary>
public sealed record PatientPage(IReadOnlyList<Patient> Items, string? NextCursor);

/// <summary>What a client sends to create a patient, already validated and normalised.</summary>
public sealed record NewPatient(
    string FirstName,
    string LastName,
    TypedId? NationalId,
    DateOnly? BirthDate,
    string? Gender,
    IReadOnlyList<string> Phones,
    IReadOnlyList<string> Emails,
    PostalAddress? Address)
{
    /// <summary>The birth date given, or the one a Swedish or Norwegian national id says (API.md §5).</summary>
    public DateOnly? BirthDateOrDerived => BirthDate ?? NationalId switch
    {
        { Type: IdType.SePersonalNumber } se => SwedishPersonalNumber.BirthDate(se.Value),
        { Type: IdType.NoPersonalNumber } no => NorwegianPersonalNumber.BirthDate(no.Value),
        _ => null,
    };

    /// <summary>The gender given, or the one a Swedish or Norwegian national id says.</summary>
    public string? GenderOrDerived => Gender ?? NationalId switch
    {
        { Type: IdType.SePersonalNumber } se => SwedishPersonalNumber.Gender(se.Value),
        { Type: IdType.NoPersonalNumber } no => NorwegianPersonalNumber.Gender(no.Value),
        _ => null,
    };

    /// <summary>
    /// Without a national id, an existing patient is this one only with the same folded names and at
    /// least one shared phone number or e-mail address (the birth date is the caller's search).
    /// </summary>
    public bool IsSamePersonAs(Patient existing)
    {
        ArgumentNullException.ThrowIfNull(existing);
        if (TextFolding.Fold(existing.FirstName) != TextFolding.Fold(FirstName) || TextFolding.Fold(existing.LastName) != TextFolding.Fold(LastName))
        {
            return false;
        }

        var phones = existing.Phones.Select(p => PhoneNumbers.Normalize(p) ?? p).ToHashSet(StringComparer.Ordinal);
        var emails = existing.Emails.Select(PhoneNumbers.NormalizeEmail).ToHashSet(StringComparer.Ordinal);
        return Phones.Any(p => phones.Contains(PhoneNumbers.Normalize(p) ?? p)) || Emails.Any(e => emails.Contains(PhoneNumbers.NormalizeEmail(e)));
    }
}

public sealed record PatientCreation(Patient Patient, bool Created);

public sealed record NewCareUnit(string Id, string Name, string TimeZone, string? Address, bool RequiresConfirmation);

public sealed record NewResource(
    string Id,
    string Name,
    string? Title,
    string Kind,
    string? HsaId,
    string? SePersonalNumber);

public sealed record NewHealthcareService(string Id, string Name, string? Description, int DurationMinutes);
