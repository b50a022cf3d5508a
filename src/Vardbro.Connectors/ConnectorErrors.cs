namespace Vardbro.Connectors;

/// <summary>The error codes of API.md §4, as they appear in <c>errors[].error_code</c>.</summary>
public static class ErrorCodes
{
    public const string InvalidPatientId = "INVALID_PATIENT_ID";
    public const string InvalidPatientIdType = "INVALID_PATIENT_ID_TYPE";
    public const string PatientIdLookupTypeNotSupported = "PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED";
    public const string InvalidResourceId = "INVALID_RESOURCE_ID";
    public const string InvalidResourceIdType = "INVALID_RESOURCE_ID_TYPE";
    public const string InvalidCareUnitId = "INVALID_CARE_UNIT_ID";
    public const string InvalidHealthcareServiceId = "INVALID_HEALTHCARE_SERVICE_ID";
    public const string InvalidAppointmentId = "INVALID_APPOINTMENT_ID";
    public const string NoTimeslotsAvailable = "NO_TIMESLOTS_AVAILABLE";
    public const string AmbiguousTimeslots = "AMBIGUOUS_TIMESLOTS";
    public const string InvalidCommentLength = "INVALID_COMMENT_LENGTH";
    public const string InvalidCreatedById = "INVALID_CREATED_BY_ID";
    public const string InvalidNoteContent = "INVALID_NOTE_CONTENT";
    public const string InvalidTemplateId = "INVALID_TEMPLATE_ID";
    public const string InvalidDocumentFormat = "INVALID_DOCUMENT_FORMAT";
    public const string InvalidConfirmationCode = "INVALID_CONFIRMATION_CODE";
    public const string MissingRequiredField = "MISSING_REQUIRED_FIELD";
    public const string InvalidField = "INVALID_FIELD";
    public const string MaxItemsExceeded = "MAX_ITEMS_EXCEEDED";
    public const string NotSupported = "NOT_SUPPORTED";
    public const string IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED";
    public const string NotFound = "NOT_FOUND";
    public const string BadInput = "BAD_INPUT";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Forbidden = "FORBIDDEN";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string RateLimited = "RATE_LIMITED";
    public const string EmrError = "EMR_ERROR";
    public const string ServiceUnavailable = "SERVICE_UNAVAILABLE";
}

/// <summary>One problem with a request: an entry of the envelope's <c>errors[]</c>.</summary>
/// <param name="ErrorCode">One of <see cref="ErrorCodes"/>.</param>
/// <param name="Details">A sentence that tells the caller what to fix. Never personal data.</param>
/// <param name="Path">The parameter or field, e.g. <c>patient_id</c> or <c>content.unstructured</c>.</param>
/// <param name="EmrError">The back end's own message, where there is one.</param>
public sealed record ApiError(string ErrorCode, string Details, string? Path = null, string? EmrError = null);

/// <summary>
/// A request refused for a reason the caller can act on. The HTTP status follows from the first
/// error's code in the server's one error table; a subclass names a status the code alone does not
/// (<see cref="ConflictException"/>). Throw sites never name a status.
/// </summary>
public class VardbroException : Exception
{
    public VardbroException(string errorCode, string details, string? path = null)
        : this([new ApiError(errorCode, details, path)])
    {
    }

    public VardbroException(IReadOnlyList<ApiError> errors)
        : base(errors.Count > 0 ? errors[0].Details : "Request failed")
    {
        Errors = errors;
    }

    public VardbroException()
        : this(ErrorCodes.BadInput, "Request failed")
    {
    }

    public VardbroException(string message)
        : this(ErrorCodes.BadInput, message)
    {
    }

    public VardbroException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [new ApiError(ErrorCodes.BadInput, message)];
    }

    public IReadOnlyList<ApiError> Errors { get; }
}

/// <summary>
/// The request is valid but the state of the record refuses it (409): the timeslot is taken, the
/// appointment is already cancelled, the id exists already, the record is still referenced.
/// </summary>
public sealed class ConflictException : VardbroException
{
    public ConflictException(string errorCode, string details, string? path = null)
        : base(errorCode, details, path)
    {
    }

    public ConflictException()
    {
    }

    public ConflictException(string message)
        : base(message)
    {
    }

    public ConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The EHR back end could not be reached (503) or did not answer in time (504).</summary>
public sealed class EmrUnavailableException : Exception
{
    public EmrUnavailableException()
    {
    }

    public EmrUnavailableException(string message)
        : base(message)
    {
    }

    public EmrUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public bool TimedOut { get; init; }
}

/// <summary>The EHR back end answered with something the connector cannot use (502).</summary>
public sealed class EmrBadAnswerException : Exception
{
    public EmrBadAnswerException()
    {
    }

    public EmrBadAnswerException(string message)
        : base(message)
    {
    }

    public EmrBadAnswerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
