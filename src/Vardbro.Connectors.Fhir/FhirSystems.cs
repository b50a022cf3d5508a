namespace Vardbro.Connectors.Fhir;

/// <summary>Identifier systems, extension URLs and codes the FHIR mapping reads and writes.</summary>
public static class FhirSystems
{
    public const string SePersonalNumber = "urn:oid:1.2.752.129.2.1.3.1";
    public const string SeCoordinationNumber = "urn:oid:1.2.752.129.2.1.3.3";
    public const string NoPersonalNumber = "urn:oid:2.16.578.1.12.4.1.4.1";
    public const string NoDNumber = "urn:oid:2.16.578.1.12.4.1.4.2";
    public const string NhsNumber = "https://fhir.nhs.uk/Id/nhs-number";
    public const string HsaId = "urn:oid:1.2.752.29.4.19";

    /// <summary>The EHR's own id of a record whose FHIR id had to be derived (FHIR-shaped output).</summary>
    public const string EmrIdPrefix = "urn:vardbro:emr-id:";

    /// <summary>Marks a booking's <c>Appointment</c>, so an uncertain create can be looked up.</summary>
    public const string Booking = "urn:vardbro:booking";

    public const string TimeZoneExtension = "urn:vardbro:fhir:time-zone";
    public const string RequiresConfirmationExtension = "urn:vardbro:fhir:requires-confirmation";
    public const string DurationExtension = "urn:vardbro:fhir:duration-minutes";
    public const string RegisteredAtExtension = "urn:vardbro:fhir:registered-at";
    public const string Sha256Extension = "urn:vardbro:fhir:sha256";
    public const string SignedAtExtension = "urn:vardbro:fhir:signed-at";

    /// <summary><c>DocumentReference.category</c>: a medical note or an attached document.</summary>
    public const string DocumentKind = "urn:vardbro:fhir:document-kind";
    public const string MedicalNoteKind = "medical-note";
    public const string DocumentKindCode = "document";

    /// <summary><c>DocumentReference.type</c> of a medical note: its template.</summary>
    public const string NoteTemplate = "urn:vardbro:fhir:note-template";

    /// <summary><c>DocumentReference.type</c> of a document: its type as the client gave it.</summary>
    public const string DocumentType = "urn:vardbro:fhir:document-type";

    /// <summary>The content type of a note's structured content attachment.</summary>
    public const string NoteContentType = "application/json";

    /// <summary>The title of a note's fields attachment, which finds it whatever content type the server made Vardbro use.</summary>
    public const string NoteContentTitle = "vardbro-note-fields.json";

    /// <summary>The identifier system for an EMR's own ids in FHIR-shaped output.</summary>
    public static string EmrId(string emr) => EmrIdPrefix + emr;
}
