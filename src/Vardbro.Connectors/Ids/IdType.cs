namespace Vardbro.Connectors;

/// <summary>The kinds of identifier a patient or resource can be addressed by (API.md §3).</summary>
public enum IdType
{
    /// <summary>The EHR's own id (<c>emr_id</c>).</summary>
    EmrId,

    /// <summary>Swedish personnummer or samordningsnummer (<c>se_personal_number</c>), 12 digits.</summary>
    SePersonalNumber,

    /// <summary>Norwegian fødselsnummer, D-number or H-number (<c>no_personal_number</c>), 11 digits.</summary>
    NoPersonalNumber,

    /// <summary>English NHS number (<c>nhs_number</c>), 10 digits; patients only.</summary>
    NhsNumber,

    /// <summary>Swedish HSA id (<c>hsa_id</c>); resources only.</summary>
    HsaId,
}

/// <summary>What an identifier refers to.</summary>
public enum IdSubject
{
    Patient,
    Resource,
}

/// <summary>Wire names of <see cref="IdType"/> and which subjects each type applies to.</summary>
public static class IdTypes
{
    /// <summary>Every id type, in declaration order.</summary>
    public static IReadOnlyList<IdType> All { get; } =
        [IdType.EmrId, IdType.SePersonalNumber, IdType.NoPersonalNumber, IdType.NhsNumber, IdType.HsaId];

    /// <summary>The national (person) id types, the ones a patient's <c>external_id</c> may have.</summary>
    public static IReadOnlyList<IdType> National { get; } =
        [IdType.SePersonalNumber, IdType.NoPersonalNumber, IdType.NhsNumber];

    /// <summary>The wire name, e.g. <c>se_personal_number</c>.</summary>
    public static string Name(IdType type) => type switch
    {
        IdType.EmrId => "emr_id",
        IdType.SePersonalNumber => "se_personal_number",
        IdType.NoPersonalNumber => "no_personal_number",
        IdType.NhsNumber => "nhs_number",
        IdType.HsaId => "hsa_id",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown id type."),
    };

    /// <summary>Reads a wire name; exact and case-sensitive (lower case only).</summary>
    public static bool TryParseName(string name, out IdType type)
    {
        switch (name)
        {
            case "emr_id":
                type = IdType.EmrId;
                return true;
            case "se_personal_number":
                type = IdType.SePersonalNumber;
                return true;
            case "no_personal_number":
                type = IdType.NoPersonalNumber;
                return true;
            case "nhs_number":
                type = IdType.NhsNumber;
                return true;
            case "hsa_id":
                type = IdType.HsaId;
                return true;
            default:
                type = default;
                return false;
        }
    }

    /// <summary><c>nhs_number</c> applies to patients only, <c>hsa_id</c> to resources only, the rest to both.</summary>
    public static bool AppliesTo(IdType type, IdSubject subject) => type switch
    {
        IdType.NhsNumber => subject == IdSubject.Patient,
        IdType.HsaId => subject == IdSubject.Resource,
        IdType.EmrId or IdType.SePersonalNumber or IdType.NoPersonalNumber => true,
        _ => false,
    };

    /// <summary>True for the national (person) id types.</summary>
    public static bool IsNational(IdType type) =>
        type is IdType.SePersonalNumber or IdType.NoPersonalNumber or IdType.NhsNumber;
}
