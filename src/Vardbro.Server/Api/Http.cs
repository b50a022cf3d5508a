using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Primitives;
using Vardbro.Connectors;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Api;

/// <summary>Small helpers every feature uses to read a request the same way.</summary>
public static class Http
{
    /// <summary>
    /// What a list without <c>limit</c> answers at most: Leyr's lists are read whole by clients that
    /// never page, so up to this many come in one answer, and only a longer list announces a next page.
    /// </summary>
    public const int WholeList = 1000;

    /// <summary>A page size from <c>limit</c>: 1–200 when given; <see cref="WholeList"/> without it.</summary>
    public static int Limit(string? limit)
    {
        if (string.IsNullOrEmpty(limit))
        {
            return WholeList;
        }

        if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 200)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "limit must be a whole number from 1 to 200.", "limit");
        }

        return value;
    }

    /// <summary>Announces the next page in a <c>Link</c> header: the same request with <c>cursor</c> set.</summary>
    public static void LinkNext(HttpContext context, string? nextCursor)
    {
        if (NextPageUrl(context, nextCursor) is { } url)
        {
            context.Response.Headers.Link = new StringValues($"<{url}>; rel=\"next\"");
        }
    }

    /// <summary>The next page's URL (path and query, no host): the same request with <c>cursor</c> set; null when none.</summary>
    public static string? NextPageUrl(HttpContext context, string? nextCursor)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (nextCursor is null)
        {
            return null;
        }

        var query = context.Request.Query
            .Where(q => q.Key != "cursor")
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
            .Append(new KeyValuePair<string, string?>("cursor", nextCursor));
        return context.Request.PathBase + context.Request.Path + QueryString.Create(query);
    }

    /// <summary>An optional text field: trimmed, at most <paramref name="max"/> characters, no control characters.</summary>
    public static string? Text(string? value, string path, int max, List<ApiError> errors, bool required = false)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                errors.Add(new ApiError(ErrorCodes.MissingRequiredField, $"{path} is required.", path));
            }

            return null;
        }

        var trimmed = value.Trim();
        if (trimmed.Length > max)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} is longer than {max} characters.", path));
            return null;
        }

        if (trimmed.Any(char.IsControl))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} contains control characters.", path));
            return null;
        }

        return trimmed;
    }

    /// <summary>
    /// The first and last day an instant or date may name. Far inside what both stores and the
    /// time-zone arithmetic represent: a range of a year, a 14-hour offset or a weekly rule's
    /// expansion added to the last day still fits in a <see cref="DateTime"/> (years 0001 and 9999
    /// used to fail there with a 500).
    /// </summary>
    public static readonly DateOnly EarliestDate = new(1900, 1, 1);

    public static readonly DateOnly LatestDate = new(2999, 12, 31);

    private static readonly DateTimeOffset EarliestInstant = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset LatestInstant = new(3000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// A query range that is optional at both ends: where both are given, <c>end</c> must be after
    /// <c>start</c> (the same rule as every other range; a reversed range used to list nothing).
    /// </summary>
    public static void CheckOrder(DateTimeOffset? start, DateTimeOffset? end, string endPath, List<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (start is { } s && end is { } e && e <= s)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"{endPath} must be after the start of the range.", endPath));
        }
    }

    public static DateOnly? Date(string? value, string path, List<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            if (date < EarliestDate || date > LatestDate)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must lie in the years {EarliestDate.Year} to {LatestDate.Year}.", path));
                return null;
            }

            return date;
        }

        errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must be a date as YYYY-MM-DD.", path));
        return null;
    }

    /// <summary>
    /// A timestamp that must carry its offset (<c>2026-03-25T14:00:00+01:00</c> or <c>…Z</c>); a '+'
    /// that arrived unencoded in a query string (as a space) is read as '+'.
    /// </summary>
    public static DateTimeOffset? Instant(string? value, string path, List<ApiError> errors, bool required = false)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                errors.Add(new ApiError(ErrorCodes.MissingRequiredField, $"{path} is required.", path));
            }

            return null;
        }

        var text = value.Trim().Replace(' ', '+');
        var hasOffset = text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && (text[^6] is '+' or '-') && text[^3] == ':');
        if (text.Length <= 40 && text.Contains('T', StringComparison.OrdinalIgnoreCase) && hasOffset
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
        {
            if (instant.UtcDateTime < EarliestInstant.UtcDateTime || instant.UtcDateTime >= LatestInstant.UtcDateTime)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must lie in the years {EarliestDate.Year} to {LatestDate.Year}.", path));
                return null;
            }

            return instant.ToUniversalTime();
        }

        errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must be an ISO 8601 timestamp with an offset, e.g. 2026-03-25T14:00:00+01:00.", path));
        return null;
    }

    public static void ThrowIfAny(List<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count > 0)
        {
            throw new VardbroException(errors);
        }
    }

    /// <summary>Today's date in the care unit's time zone.</summary>
    public static DateOnly Today(TimeProvider time, string timeZone) =>
        DateOnly.FromDateTime(Local(time.GetUtcNow(), timeZone).DateTime);

    /// <summary>An instant shown with the offset it has in <paramref name="timeZone"/>.</summary>
    public static DateTimeOffset Local(DateTimeOffset instant, string timeZone) =>
        TimeZoneInfo.ConvertTime(instant, TimeZones.Find(timeZone));
}

/// <summary>Parses typed ids from paths, queries and bodies, and checks the EMR accepts the type.</summary>
public static class Ids
{
    public static TypedId Patient(EmrDefinition emr, string raw, DateOnly today, string path)
    {
        ArgumentNullException.ThrowIfNull(emr);
        var id = TypedId.Parse(raw, IdSubject.Patient, today, path);
        if (!emr.PatientIdTypes.Contains(id.Type))
        {
            throw new VardbroException(ErrorCodes.PatientIdLookupTypeNotSupported,
                $"The EMR '{emr.Code}' does not look patients up by {IdTypes.Name(id.Type)}; it accepts {string.Join(", ", emr.PatientIdTypes.Select(IdTypes.Name))}.", path);
        }

        return id;
    }

    public static TypedId Resource(EmrDefinition emr, string raw, DateOnly today, string path)
    {
        ArgumentNullException.ThrowIfNull(emr);
        var id = TypedId.Parse(raw, IdSubject.Resource, today, path);
        if (!emr.ResourceIdTypes.Contains(id.Type))
        {
            throw new VardbroException(ErrorCodes.InvalidResourceIdType,
                $"The EMR '{emr.Code}' does not look resources up by {IdTypes.Name(id.Type)}; it accepts {string.Join(", ", emr.ResourceIdTypes.Select(IdTypes.Name))}.", path);
        }

        return id;
    }

    /// <summary>Vardbro's own stable patient id: a name-based UUID (version 5) of <c>emr/emr_id</c>.</summary>
    public static string VardbroPatientId(string emr, string emrId)
    {
        ArgumentNullException.ThrowIfNull(emr);
        ArgumentNullException.ThrowIfNull(emrId);

        // A fixed namespace UUID for Vardbro patient ids, in network byte order.
        ReadOnlySpan<byte> ns = [0x6f, 0x0e, 0x6c, 0x1a, 0x3b, 0x55, 0x4d, 0x8e, 0x9a, 0x41, 0x2c, 0x7d, 0x10, 0x5e, 0xb3, 0x27];

        // On the stack: a search page computes one per patient found.
        var length = ns.Length + Encoding.UTF8.GetByteCount(emr) + 1 + Encoding.UTF8.GetByteCount(emrId);
        var rented = length > 256 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> input = rented ?? stackalloc byte[256];
        ns.CopyTo(input);
        var n = ns.Length + Encoding.UTF8.GetBytes(emr, input[ns.Length..]);
        input[n++] = (byte)'/';
        n += Encoding.UTF8.GetBytes(emrId, input[n..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // RFC 4122 version 5 is defined over SHA-1; this is an identifier, not a security function
        SHA1.HashData(input[..n], hash);
#pragma warning restore CA5350
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString();
    }
}
