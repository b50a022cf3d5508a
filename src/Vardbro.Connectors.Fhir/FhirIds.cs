using System.Security.Cryptography;
using System.Text;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// How record ids become FHIR logical ids. Writing to a FHIR server, ids are the server's own;
/// in FHIR-shaped output of any connector, an id that is not a valid FHIR id gets a stable stand-in
/// and the original travels in an identifier of system <see cref="FhirSystems.EmrId"/>.
/// </summary>
public sealed record FhirIdMap(string? Emr, Func<string, string> Patient, Func<string, string> Other)
{
    /// <summary>The connector's view: record ids are the FHIR server's logical ids.</summary>
    public static FhirIdMap Server { get; } = new(null, id => id, id => id);

    /// <summary>FHIR-shaped output of <paramref name="emr"/>; <paramref name="patient"/> gives a patient's public id.</summary>
    public static FhirIdMap Output(string emr, Func<string, string> patient) => new(emr, patient, FhirIds.For);
}

public static class FhirIds
{
    /// <summary>FHIR R4 <c>id</c>: 1–64 of A–Z, a–z, 0–9, '-' and '.'.</summary>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The id itself when valid, else a stable stand-in derived from it.</summary>
    public static string For(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return IsValid(id) ? id : "x-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)).AsSpan(0, 20));
    }

    /// <summary>The id of a reference like <c>Patient/abc</c> (or an absolute URL ending so), if it is of <paramref name="type"/>.</summary>
    public static string? OfReference(string? reference, string type)
    {
        if (string.IsNullOrEmpty(reference))
        {
            return null;
        }

        var parts = reference.Split('/');
        for (var i = parts.Length - 2; i >= 0; i--)
        {
            if (parts[i] == type)
            {
                return parts[i + 1].Length > 0 ? parts[i + 1] : null;
            }
        }

        return null;
    }
}
