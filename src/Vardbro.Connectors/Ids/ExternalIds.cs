namespace Vardbro.Connectors;

/// <summary>A patient's national id as given at creation (<c>external_id</c>, API.md §5).</summary>
public static class ExternalIds
{
    /// <summary>
    /// Reads a national id, typed (<c>se_personal_number:…</c>) or bare. A bare value's type is
    /// inferred from its shape among the <paramref name="accepted"/> national types: 12 digits,
    /// <c>YYYYMMDD-NNNN</c>, <c>YYMMDD-NNNN</c>, <c>YYMMDD+NNNN</c> → Swedish; 11 digits → Norwegian;
    /// 10 digits (NHS: after removing spaces and dashes) → Swedish without separator or NHS. A value
    /// with a Swedish separator (<c>YYMMDD-NNNN</c>) is Swedish even where NHS is accepted too.
    /// Errors: <c>INVALID_PATIENT_ID_TYPE</c> (unknown prefix, or <c>hsa_id</c>),
    /// <c>INVALID_PATIENT_ID</c> (<c>emr_id</c>, shape fits no or several accepted types, value fails
    /// its check), <c>PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED</c> (typed with a type not accepted).
    /// </summary>
    public static TypedId ParseExternalId(string raw, IReadOnlyCollection<IdType> accepted, DateOnly today, string path)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        if (string.IsNullOrEmpty(raw))
        {
            throw Invalid("The external id is empty.", path);
        }

        int colon = raw.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            IdType type = TypedId.ParsePrefix(raw.AsSpan(0, colon), IdSubject.Patient, path);
            if (!IdTypes.IsNational(type))
            {
                throw Invalid(
                    $"The external id must be a national id ({NationalList(IdTypes.National)}), not an {IdTypes.Name(type)}.",
                    path);
            }

            if (!accepted.Contains(type))
            {
                throw new VardbroException(
                    ErrorCodes.PatientIdLookupTypeNotSupported,
                    $"This EMR does not accept {IdTypes.Name(type)} ids; it accepts {AcceptedList(accepted)}.",
                    path);
            }

            return TypedId.Parse(raw, IdSubject.Patient, today, path);
        }

        List<IdType> fits = ShapeCandidates(raw);
        List<IdType> candidates = fits.Where(accepted.Contains).ToList();
        if (candidates.Count > 1 && candidates.Contains(IdType.SePersonalNumber) && HasSwedishSeparator(raw))
        {
            candidates = [IdType.SePersonalNumber];
        }

        if (candidates.Count == 0)
        {
            string details = fits.Count > 0
                ? $"The external id has the shape of {NationalList(fits)}, which this EMR does not accept; it accepts {AcceptedList(accepted)}."
                : $"The external id has the shape of no national id this EMR accepts ({AcceptedList(accepted)}).";
            throw Invalid(details, path);
        }

        if (candidates.Count > 1)
        {
            throw Invalid(
                "The external id fits more than one national id type, so the type prefix is required: "
                + string.Join(" or ", candidates.Select(t => IdTypes.Name(t) + ":")) + ".",
                path);
        }

        IdType inferred = candidates[0];
        string? error = TypedId.CheckValue(inferred, raw, today, out string canonical);
        if (error is not null)
        {
            throw Invalid(error, path);
        }

        return new TypedId(inferred, canonical);
    }

    /// <summary>The national types whose shape a bare value has, in <see cref="IdTypes.National"/> order.</summary>
    private static List<IdType> ShapeCandidates(string raw)
    {
        List<IdType> fits = [];
        ReadOnlySpan<char> s = raw;
        bool swedish = (s.Length is (12 or 10) && SwedishPersonalNumber.AllDigits(s)) || HasSwedishSeparator(raw);
        if (swedish)
        {
            fits.Add(IdType.SePersonalNumber);
        }

        bool norwegian = (s.Length == 11 && SwedishPersonalNumber.AllDigits(s))
            || (s.Length == 12 && s[6] == ' ' && SwedishPersonalNumber.AllDigits(s[..6]) && SwedishPersonalNumber.AllDigits(s[7..]));
        if (norwegian)
        {
            fits.Add(IdType.NoPersonalNumber);
        }

        int digits = 0;
        bool onlyDigitsSpacesDashes = true;
        foreach (char c in s)
        {
            if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (c is not (' ' or '-'))
            {
                onlyDigitsSpacesDashes = false;
                break;
            }
        }

        if (onlyDigitsSpacesDashes && digits == 10)
        {
            fits.Add(IdType.NhsNumber);
        }

        return fits;
    }

    /// <summary><c>YYYYMMDD-NNNN</c>, <c>YYMMDD-NNNN</c> or <c>YYMMDD+NNNN</c>.</summary>
    private static bool HasSwedishSeparator(string s) =>
        (s.Length == 13 && s[8] == '-' && SwedishPersonalNumber.AllDigits(s.AsSpan(0, 8)) && SwedishPersonalNumber.AllDigits(s.AsSpan(9)))
        || (s.Length == 11 && s[6] is ('-' or '+') && SwedishPersonalNumber.AllDigits(s.AsSpan(0, 6)) && SwedishPersonalNumber.AllDigits(s.AsSpan(7)));

    private static string AcceptedList(IReadOnlyCollection<IdType> accepted)
    {
        List<IdType> national = IdTypes.National.Where(accepted.Contains).ToList();
        return national.Count == 0 ? "no national id types" : NationalList(national);
    }

    private static string NationalList(IEnumerable<IdType> types) => string.Join(", ", types.Select(IdTypes.Name));

    private static VardbroException Invalid(string details, string path) =>
        new(ErrorCodes.InvalidPatientId, details, path);
}
