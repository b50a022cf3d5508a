using Vardbro.Connectors;
using Vardbro.Server.Api;
using F = Hl7.Fhir.Model;

namespace Vardbro.Server.Features.Fhir;

/// <summary>
/// The error envelope of API.md §4 as a FHIR <c>OperationOutcome</c>, for requests to the FHIR routes.
/// One issue per envelope error (one issue for an envelope without errors), each carrying every field
/// of the envelope a client reads: <c>error_code</c> in <c>details.coding</c>, <c>details</c> in
/// <c>details.text</c>, <c>path</c> in <c>expression</c>, <c>emr_error</c> in <c>diagnostics</c>, and the
/// envelope's <c>code</c> and <c>instance</c> in extensions (docs/api.md, "FHIR-shaped output").
/// </summary>
public static class FhirOutcome
{
    /// <summary><c>details.coding.system</c> of an issue's <c>error_code</c>.</summary>
    public const string ErrorCodeSystem = "urn:vardbro:fhir:error-code";

    /// <summary>The envelope's <c>code</c> (<c>BAD_REQUEST</c>, <c>NOT_FOUND</c>, …), a <c>valueCode</c>.</summary>
    public const string CodeExtension = "urn:vardbro:fhir:code";

    /// <summary>The envelope's <c>instance</c> (the request id), a <c>valueString</c>.</summary>
    public const string InstanceExtension = "urn:vardbro:fhir:instance";

    /// <summary>Whether an error on this request is answered as an <c>OperationOutcome</c>: the one place that decides.</summary>
    public static bool Applies(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Request.Path.StartsWithSegments("/api/fhir", StringComparison.OrdinalIgnoreCase);
    }

    public static F.OperationOutcome From(int status, string code, string detail, string instance, IReadOnlyList<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var outcome = new F.OperationOutcome();
        var severity = status >= 500 ? F.OperationOutcome.IssueSeverity.Fatal : F.OperationOutcome.IssueSeverity.Error;
        foreach (var error in errors.Count > 0 ? errors : [new ApiError(string.Empty, detail, null)])
        {
            var issue = new F.OperationOutcome.IssueComponent
            {
                Severity = severity,
                Code = IssueType(status, error.ErrorCode),
                Details = new F.CodeableConcept { Text = error.Details },
                Diagnostics = error.EmrError,
            };
            if (error.ErrorCode.Length > 0)
            {
                issue.Details.Coding.Add(new F.Coding(ErrorCodeSystem, error.ErrorCode));
            }

            if (!string.IsNullOrEmpty(error.Path))
            {
                issue.Expression = [error.Path];
            }

            issue.Extension.Add(new F.Extension(CodeExtension, new F.Code(code)));
            issue.Extension.Add(new F.Extension(InstanceExtension, new F.FhirString(instance)));
            outcome.Issue.Add(issue);
        }

        return outcome;
    }

    private static F.OperationOutcome.IssueType IssueType(int status, string errorCode) => status switch
    {
        400 when errorCode == ErrorCodes.NotSupported => F.OperationOutcome.IssueType.NotSupported,
        400 when errorCode == ErrorCodes.MissingRequiredField => F.OperationOutcome.IssueType.Required,
        400 => F.OperationOutcome.IssueType.Invalid,
        401 => F.OperationOutcome.IssueType.Login,
        403 => F.OperationOutcome.IssueType.Forbidden,
        404 => F.OperationOutcome.IssueType.NotFound,
        405 or 415 => F.OperationOutcome.IssueType.NotSupported,
        409 => F.OperationOutcome.IssueType.Conflict,
        413 => F.OperationOutcome.IssueType.TooLong,
        422 => F.OperationOutcome.IssueType.BusinessRule,
        429 => F.OperationOutcome.IssueType.Throttled,
        503 => F.OperationOutcome.IssueType.Transient,
        504 => F.OperationOutcome.IssueType.Timeout,
        < 500 => F.OperationOutcome.IssueType.Processing,
        _ => F.OperationOutcome.IssueType.Exception,
    };
}
