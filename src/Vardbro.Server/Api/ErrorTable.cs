using System.Globalization;
using System.Net;
using System.Text;
using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>
/// The one table: which status an error code answers with, the envelope's <c>code</c> and
/// <c>title</c> for each status, and what each status and each <c>errors[].error_code</c> means,
/// its typical cause and what the caller should do. The error reference at <c>/docs/errors</c>,
/// the envelope's <c>type</c> and the OpenAPI document's error responses are all generated from it.
/// </summary>
public static class ErrorTable
{
    /// <summary>One status the API answers with; <see cref="Anchor"/> is its fragment in <c>/docs/errors</c>.</summary>
    public sealed record StatusEntry(int Status, string Code, string Title, string Meaning, string Cause, string Action)
    {
        public string Anchor => Statuses.Count(s => s.Code == Code) > 1 ? $"{Code.ToLowerInvariant()}_{Status}" : Code.ToLowerInvariant();
    }

    /// <summary>One <c>errors[].error_code</c>, with the statuses it appears under.</summary>
    public sealed record CodeEntry(string Code, int[] StatusList, string Meaning, string Cause, string Action)
    {
        public string Anchor => "error-" + Code.ToLowerInvariant();
    }

    public static readonly IReadOnlyList<StatusEntry> Statuses =
    [
        new(400, "BAD_REQUEST", "Request validation failed",
            "The request is not valid; errors[] names each problem with its error_code and the path of the parameter or field.",
            "A missing or malformed field, an id that fails its check, a filter the endpoint does not know, a state the EHR refuses.",
            "Fix each problem listed in errors[] and send the request again; retrying it unchanged gives the same answer."),
        new(401, "UNAUTHORIZED", "Authentication failed",
            "The credentials are missing or wrong.",
            "No x-leyr-client-id / x-leyr-client-secret headers, a revoked client, a rotated secret; on /api/admin a missing or wrong x-admin-key.",
            "Send both headers with the client's current secret. The answer never says which of the two was wrong."),
        new(403, "FORBIDDEN", "Access denied",
            "The client is authenticated but not granted this EMR or care unit.",
            "A path naming an EMR or care unit outside the client's grants.",
            "Use an EMR and care unit the client is granted (GET /api/emrs lists them) or ask the operator to extend the grants."),
        new(404, "NOT_FOUND", "Not found",
            "No such record or endpoint, or one the client may not see (which answers exactly like one that does not exist).",
            "A wrong id, a record of another care unit, a mistyped path; the admin API when no admin key is configured.",
            "Check the id and the path; list the records to find the right id."),
        new(405, "METHOD_NOT_ALLOWED", "Method not allowed",
            "The path exists but does not take this HTTP method.",
            "E.g. DELETE on an appointment (cancel it with PATCH status=cancelled).",
            "Use a method listed for the path in /openapi/v1.json."),
        new(409, "CONFLICT", "Conflict",
            "The request is valid, but the current state of the record refuses it.",
            "The timeslot was taken (also by a concurrent request), the appointment is already cancelled or has taken place, a schedule overlaps another, a care unit is still referenced, an id or HSA id exists already.",
            "Read the record (or the timeslots) again and decide anew; retrying the same request gives the same answer."),
        new(413, "PAYLOAD_TOO_LARGE", "Payload too large",
            "The request body is larger than the endpoint accepts.",
            "A document over the configured size (25 MiB by default) or any other body over its limit.",
            "Send a smaller body; for documents, a smaller file."),
        new(415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type",
            "The body is not in a media type the endpoint reads.",
            "A missing Content-Type or one other than application/json (with UTF-8).",
            "Send the body as JSON with Content-Type: application/json."),
        new(422, "UNPROCESSABLE", "Unprocessable request",
            "The request conflicts with an earlier one sent under the same Idempotency-Key.",
            "The same Idempotency-Key reused with a different body (or on another endpoint) within 24 hours.",
            "Use a new key for a new request; reuse a key only to retry exactly the same request."),
        new(429, "TOO_MANY_REQUESTS", "Too many requests",
            "The client sent more requests than its limit allows, or its address or client id failed authentication too often.",
            "A burst above the per-client rate (RateLimits), or repeated wrong credentials.",
            "Wait the number of seconds in Retry-After, then retry; spread requests out."),
        new(500, "UNKNOWN_ERROR", "Unexpected error",
            "Something failed inside Vardbro that the request could not have caused.",
            "A bug or an outage of Vardbro's own database.",
            "Retry later; if it persists, report the instance id (it is also the x-request-id) to the operator."),
        new(502, "EMR_ERROR", "The EMR gave an unexpected answer",
            "The EHR back end answered, but with an error or something Vardbro cannot use.",
            "A 5xx from the EHR, an unparseable answer, an answer that breaks the EHR's own documented contract.",
            "Retry later; if it persists, the operator should look at the EHR's health (errors[].emr_error carries its message where there is one)."),
        new(503, "SERVICE_UNAVAILABLE", "Service unavailable",
            "The EHR back end cannot be reached right now.",
            "The EHR is down, refuses connections, or its address cannot be resolved.",
            "Retry later with back-off; GET /readyz shows each EMR back end's state."),
        new(504, "EMR_ERROR", "The EMR did not answer in time",
            "The EHR back end did not answer within the configured timeout.",
            "A slow or overloaded EHR.",
            "Retry later. A write (POST, PATCH) may have taken effect in the EHR: read before you retry it, or retry with the same Idempotency-Key."),
    ];

    /// <summary>Every <c>errors[].error_code</c> of <see cref="ErrorCodes"/>.</summary>
    public static readonly IReadOnlyList<CodeEntry> Codes =
    [
        new(ErrorCodes.InvalidPatientId, [400], "A patient id or national id fails its check.",
            "A personal number with a wrong check digit or impossible date, an NHS number failing mod 11, a bare external_id whose shape fits more than one type.",
            "Send a valid id, typed where its shape is ambiguous (se_personal_number:…, no_personal_number:…, nhs_number:…)."),
        new(ErrorCodes.InvalidPatientIdType, [400], "A patient id has a type prefix Vardbro does not know.",
            "A typo in the prefix (se_personnummer:…) or an id containing a colon.",
            "Use one of emr_id, se_personal_number, no_personal_number, nhs_number, or a bare value (read as emr_id)."),
        new(ErrorCodes.PatientIdLookupTypeNotSupported, [400], "The id type is valid, but this EMR does not look patients up by it.",
            "E.g. an nhs_number on a Swedish EMR.",
            "Use a type listed in patient_id_types by GET /api/emrs."),
        new(ErrorCodes.InvalidResourceId, [400], "A resource id fails its check.",
            "A malformed HSA id or personal number, or a resource id that is too long.",
            "Send an id as listed by GET …/resources."),
        new(ErrorCodes.InvalidResourceIdType, [400], "A resource id's type is unknown or not supported by this EMR.",
            "A typo in the prefix, or a type missing from resource_id_types of GET /api/emrs.",
            "Use emr_id, hsa_id or se_personal_number as the EMR lists them."),
        new(ErrorCodes.InvalidCareUnitId, [400], "A care unit id is malformed or names no care unit of this EMR.",
            "A typo in the path or body.",
            "Use an id from GET /api/emrs/{emr}/care-units."),
        new(ErrorCodes.InvalidHealthcareServiceId, [400], "A healthcare service id names no service of this care unit.",
            "A service of another care unit, or one that was removed.",
            "Use an id from GET …/healthcare-services."),
        new(ErrorCodes.InvalidAppointmentId, [400], "An appointment id is malformed, repeated in a bulk request, or names no appointment of this care unit.",
            "A typo, the same id twice in ids[], or an appointment of another care unit.",
            "Use ids from GET …/appointments, each once."),
        new(ErrorCodes.NoTimeslotsAvailable, [400, 409], "No free timeslot matches the requested times.",
            "400: no schedule offers a slot with exactly that start and end. 409: the slot exists but another appointment holds it (also the loser of a race).",
            "List GET …/timeslots again and book one of the slots it returns, with its exact start and end."),
        new(ErrorCodes.AmbiguousTimeslots, [400], "Several resources offer the requested slot and none was named.",
            "A booking without resource_id at a time more than one practitioner is free.",
            "Send resource_id (one of the timeslots' resource_id)."),
        new(ErrorCodes.InvalidCommentLength, [400], "The comment is too long.",
            "A comment over 1,000 characters.",
            "Shorten the comment."),
        new(ErrorCodes.InvalidCreatedById, [400], "created_by_id names no resource of this care unit.",
            "A practitioner of another care unit, or a malformed id.",
            "Use a resource id from GET …/resources of the same care unit."),
        new(ErrorCodes.InvalidNoteContent, [400], "A medical note's content does not fit its template.",
            "An unknown or repeated key, a required field missing or blank, a value that is not a string or is too long.",
            "Send exactly the fields GET /api/medical-note-templates lists for the template."),
        new(ErrorCodes.InvalidTemplateId, [400], "The note template is unknown.",
            "A typo in template_id.",
            "Use a template id from GET /api/medical-note-templates."),
        new(ErrorCodes.InvalidDocumentFormat, [400], "A document's format is not allowed, or its bytes do not match it.",
            "A MIME type outside application/pdf, image/png, image/jpeg, image/tiff, text/plain, or e.g. PNG bytes declared as application/pdf.",
            "Declare the file's real format, one of the allowed ones."),
        new(ErrorCodes.InvalidConfirmationCode, [400], "The booking confirmation code is wrong or expired.",
            "A mistyped code, a code older than 15 minutes; after 5 wrong codes the booking is cancelled.",
            "Ask the patient for the code sent to their phone; after expiry, book again."),
        new(ErrorCodes.MissingRequiredField, [400], "A required parameter or field is missing or blank.",
            "A body without a required field, a search without any criterion, no body at all.",
            "Send the field named in path."),
        new(ErrorCodes.InvalidField, [400], "A parameter or field has the wrong type, shape or value.",
            "A timestamp without offset or outside the years 1900–2999, a range whose end is not after its start or that is too long, a limit outside 1–200, an unknown query parameter, a key given twice in the body, a value the field does not allow.",
            "Correct the field named in path as details says."),
        new(ErrorCodes.MaxItemsExceeded, [400], "A list in the request has too many items.",
            "More than 50 ids in a bulk update.",
            "Split the request."),
        new(ErrorCodes.NotSupported, [400, 405], "The EMR, or the endpoint, does not support this operation.",
            "A capability the EMR's connector lacks (e.g. documents on an EHR without them), or an HTTP method the path does not take (405).",
            "Check capabilities in GET /api/emrs, or the methods in /openapi/v1.json."),
        new(ErrorCodes.IdempotencyKeyReused, [422], "The Idempotency-Key was used before with a different request.",
            "A client reusing one key for two different bodies or endpoints within 24 hours.",
            "Generate a new key for each new request."),
        new(ErrorCodes.NotFound, [404], "The record or endpoint named in path does not exist, or lies outside the client's grants.",
            "A wrong id or path.",
            "Check the id; list the records to find it."),
        new(ErrorCodes.BadInput, [400, 409, 415], "The request cannot be processed as sent, or the record's state refuses it.",
            "Malformed JSON or a body that is not an object (400), a body in another media type (415), an appointment already cancelled or a still referenced record (409), a refusal of the EHR (400, with its message in emr_error).",
            "Read details (and emr_error); fix the request, or read the record again before deciding."),
        new(ErrorCodes.Unauthorized, [401], "Authentication failed.", "Missing or wrong credentials.", "Send x-leyr-client-id and x-leyr-client-secret (x-admin-key on /api/admin)."),
        new(ErrorCodes.Forbidden, [403], "The client is not granted this EMR or care unit.", "A path outside the client's grants.", "Use a granted EMR and care unit, or ask the operator for a grant."),
        new(ErrorCodes.PayloadTooLarge, [413], "The body is larger than the endpoint accepts.", "A document over the size limit.", "Send a smaller body."),
        new(ErrorCodes.UnsupportedMediaType, [415], "The body's media type is not one the endpoint reads.", "A Content-Type other than application/json.", "Send JSON with Content-Type: application/json."),
        new(ErrorCodes.RateLimited, [429], "A rate limit is used up: the client's requests, or failed authentications from the address or for the client id.",
            "A burst above the client's RateLimits (per client, or per EMR), or repeated wrong credentials.", "Wait Retry-After seconds, then retry; spread requests out, and fix the credentials before trying again."),
        new(ErrorCodes.EmrError, [502, 504], "The EHR back end failed: an unusable answer (502) or no answer in time (504).",
            "An EHR outage, a 5xx from it, a timeout.", "Retry later; read before retrying a write that timed out, or reuse its Idempotency-Key."),
        new(ErrorCodes.ServiceUnavailable, [503], "The EHR back end cannot be reached.", "The EHR is down or unreachable.", "Retry later with back-off; GET /readyz shows its state."),
    ];

    /// <summary>The status an error code answers with when the thrower does not say otherwise.</summary>
    public static readonly IReadOnlyDictionary<string, int> CodeStatus = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        [ErrorCodes.NotFound] = 404,
        [ErrorCodes.Unauthorized] = 401,
        [ErrorCodes.Forbidden] = 403,
        [ErrorCodes.PayloadTooLarge] = 413,
        [ErrorCodes.UnsupportedMediaType] = 415,
        [ErrorCodes.IdempotencyKeyReused] = 422,
        [ErrorCodes.RateLimited] = 429,
        [ErrorCodes.EmrError] = 502,
        [ErrorCodes.ServiceUnavailable] = 503,
    };

    public static int StatusOf(string errorCode) => CodeStatus.GetValueOrDefault(errorCode, 400);

    /// <summary>The status a refusal answers with: its type where the type says more than the code, else its first code's.</summary>
    public static int StatusOf(VardbroException refusal) => refusal switch
    {
        null => throw new ArgumentNullException(nameof(refusal)),
        ConflictException => 409,
        UnsupportedMediaTypeException => 415,
        _ => StatusOf(refusal.Errors[0].ErrorCode),
    };

    public static StatusEntry Entry(int status) =>
        Statuses.FirstOrDefault(s => s.Status == status)
        ?? (status >= 500 ? Statuses.First(s => s.Status == 500) : Statuses.First(s => s.Status == 400));

    /// <summary>The envelope's <c>type</c>: an absolute URL of the status's anchor in this server's error reference.</summary>
    public static string TypeOf(HttpRequest request, int status)
    {
        ArgumentNullException.ThrowIfNull(request);
        return $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase.ToUriComponent()}/docs/errors#{Entry(status).Anchor}";
    }

    /// <summary>The page served at <c>/docs/errors</c>: one anchored section per status and per error code.</summary>
    public static string ReferenceHtml()
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=en><meta charset=utf-8><title>Vardbro error reference</title>")
            .Append("<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}section{border-top:1px solid #ccc;padding:.5em 0}dt{font-weight:bold}code{background:#f4f4f4}</style>")
            .Append("<h1>Vardbro error reference</h1>")
            .Append("<p>Every error answers with <code>application/problem+json</code>: <code>{code, type, title, status, detail, instance, errors[]}</code>. ")
            .Append("<code>type</code> links to the status's section below; <code>instance</code> repeats the <code>x-request-id</code> header; ")
            .Append("each entry of <code>errors[]</code> has an <code>error_code</code> (sections further down), <code>details</code>, the <code>path</code> of the parameter or field, and <code>emr_error</code>, the EHR's own message where there is one. ")
            .Append("On the FHIR routes the same envelope comes as an OperationOutcome.</p>")
            .Append("<h2 id=statuses>Statuses and <code>code</code></h2>");
        foreach (var s in Statuses)
        {
            html.Append(CultureInfo.InvariantCulture, $"<section id=\"{s.Anchor}\"><h3>{s.Status} <code>{s.Code}</code> — {E(s.Title)}</h3><dl>")
                .Append(CultureInfo.InvariantCulture, $"<dt>Meaning</dt><dd>{E(s.Meaning)}</dd><dt>Typical cause</dt><dd>{E(s.Cause)}</dd><dt>What to do</dt><dd>{E(s.Action)}</dd>")
                .Append(CultureInfo.InvariantCulture, $"<dt>error_code values</dt><dd>{string.Join(", ", Codes.Where(c => c.StatusList.Contains(s.Status)).Select(c => $"<a href=\"#{c.Anchor}\"><code>{c.Code}</code></a>"))}</dd></dl></section>");
        }

        html.Append("<h2 id=error-codes><code>errors[].error_code</code></h2>");
        foreach (var c in Codes)
        {
            var statuses = string.Join(", ", c.StatusList.Select(status => $"<a href=\"#{Entry(status).Anchor}\">{status}</a>"));
            html.Append(CultureInfo.InvariantCulture, $"<section id=\"{c.Anchor}\"><h3><code>{c.Code}</code> ({statuses})</h3><dl>")
                .Append(CultureInfo.InvariantCulture, $"<dt>Meaning</dt><dd>{E(c.Meaning)}</dd><dt>Typical cause</dt><dd>{E(c.Cause)}</dd><dt>What to do</dt><dd>{E(c.Action)}</dd></dl></section>");
        }

        html.Append("</html>");
        return html.ToString();
    }
}
