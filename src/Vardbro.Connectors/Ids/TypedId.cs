namespace Vardbro.Connectors;

/// <summary>
/// A typed identifier, <c>{type}:{value}</c> (API.md §3). <see cref="Value"/> is canonical when the
/// id came from <see cref="Parse"/>.
/// </summary>
public readonly record struct TypedId(IdType Type, string Value)
{
    /// <summary>The longest EHR id.</summary>
    public const int MaxEmrIdLength = 128;

    /// <summary><c>{type}:{value}</c>, e.g. <c>se_personal_number:191212121212</c>.</summary>
    public override string ToString() => $"{IdTypes.Name(Type)}:{Value}";

    /// <summary>
    /// Reads a typed id from a path, query or body. The type is the part before the first <c>:</c>;
    /// without a <c>:</c> the whole value is an <c>emr_id</c>. Throws <see cref="VardbroException"/>
    /// with <c>INVALID_{PATIENT|RESOURCE}_ID_TYPE</c> for an unknown type or one that does not apply
    /// to <paramref name="subject"/>, and <c>INVALID_{PATIENT|RESOURCE}_ID</c> for a value failing
    /// its check, each with <paramref name="path"/>. The value returned is canonical.
    /// </summary>
    public static TypedId Parse(string raw, IdSubject subject, DateOnly today, string path)
    {
        raw ??= string.Empty;
        int colon = raw.IndexOf(':', StringComparison.Ordinal);
        IdType type = IdType.EmrId;
        string value = raw;
        if (colon >= 0)
        {
            type = ParsePrefix(raw.AsSpan(0, colon), subject, path);
            value = raw[(colon + 1)..];
        }

        string? error = CheckValue(type, value, today, out string canonical);
        if (error is not null)
        {
            throw new VardbroException(InvalidIdCode(subject), error, path);
        }

        return new TypedId(type, canonical);
    }

    /// <summary>
    /// Validates a value of a known type; returns why it is not valid (never echoing the value), or
    /// null with <paramref name="canonical"/> set.
    /// </summary>
    internal static string? CheckValue(IdType type, string value, DateOnly today, out string canonical)
    {
        switch (type)
        {
            case IdType.EmrId:
                canonical = value;
                return CheckEmrId(value);
            case IdType.SePersonalNumber:
                return SwedishPersonalNumber.Check(value, today, out canonical);
            case IdType.NoPersonalNumber:
                return NorwegianPersonalNumber.Check(value, out canonical);
            case IdType.NhsNumber:
                return NhsNumber.Check(value, out canonical);
            case IdType.HsaId:
                canonical = value;
                return HsaId.IsValid(value)
                    ? null
                    : "An HSA id is SE, 10–12 digits, a dash and one or more letters or digits, at most 31 characters.";
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown id type.");
        }
    }

    /// <summary>Reads a type prefix; throws the <c>…_ID_TYPE</c> error when it is unknown or does not apply.</summary>
    internal static IdType ParsePrefix(ReadOnlySpan<char> prefix, IdSubject subject, string path)
    {
        string noun = subject == IdSubject.Patient ? "patient" : "resource";
        string code = subject == IdSubject.Patient ? ErrorCodes.InvalidPatientIdType : ErrorCodes.InvalidResourceIdType;
        if (!IdTypes.TryParseName(prefix.ToString(), out IdType type))
        {
            throw new VardbroException(
                code,
                $"The {noun} id has an unknown type prefix; use one of {TypeList(subject)}, "
                + "or give the EHR id without a prefix (an EHR id containing ':' needs the emr_id: prefix).",
                path);
        }

        if (!IdTypes.AppliesTo(type, subject))
        {
            throw new VardbroException(
                code,
                $"The id type {IdTypes.Name(type)} does not apply to {noun}s; use one of {TypeList(subject)}.",
                path);
        }

        return type;
    }

    internal static string InvalidIdCode(IdSubject subject) =>
        subject == IdSubject.Patient ? ErrorCodes.InvalidPatientId : ErrorCodes.InvalidResourceId;

    private static string TypeList(IdSubject subject) =>
        string.Join(", ", IdTypes.All.Where(t => IdTypes.AppliesTo(t, subject)).Select(IdTypes.Name));

    private static string? CheckEmrId(string value)
    {
        if (value.Length == 0)
        {
            return "The EHR id is empty.";
        }

        if (value.Length > MaxEmrIdLength)
        {
            return "The EHR id is longer than 128 characters.";
        }

        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                return "The EHR id contains a control character.";
            }
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return "The EHR id is blank.";
        }

        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
        {
            return "The EHR id begins or ends with white space.";
        }

        return null;
    }
}
