using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Vardbro.Connectors;
using Vardbro.Server.Features.Fhir;

namespace Vardbro.Server.Api;

/// <summary>Writes the error envelope of API.md §4; on the FHIR routes the same envelope as an <c>OperationOutcome</c>.</summary>
public static class Problem
{
    public const string ContentType = "application/problem+json";

    /// <summary>JSON responses are never HTML: keep å, ä, ö and apostrophes readable instead of \u-escaped.</summary>
    public static readonly System.Text.Encodings.Web.JavaScriptEncoder JsonEncoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static async Task WriteAsync(HttpContext context, int status, string detail, IReadOnlyList<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(errors);
        var entry = ErrorTable.Entry(status);
        var response = context.Response;
        response.StatusCode = status;

        // An error is never cached: what ASP.NET Core's exception handler sets on the answers it
        // writes, here also on those written by a middleware (401, 403).
        response.Headers.CacheControl = "no-cache,no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "-1";
        if (status == 429 && !response.Headers.ContainsKey("Retry-After"))
        {
            response.Headers.RetryAfter = "1";
        }

        if (FhirOutcome.Applies(context))
        {
            await FhirResult.WriteBodyAsync(context, FhirOutcome.From(status, entry.Code, detail, context.TraceIdentifier, errors));
            return;
        }

        response.ContentType = ContentType;
        await using var json = new Utf8JsonWriter(response.Body, new JsonWriterOptions { Encoder = JsonEncoder });
        json.WriteStartObject();
        json.WriteString("code", entry.Code);
        json.WriteString("type", ErrorTable.TypeOf(context.Request, status));
        json.WriteString("title", entry.Title);
        json.WriteNumber("status", status);
        json.WriteString("detail", detail);
        json.WriteString("instance", context.TraceIdentifier);
        json.WriteStartArray("errors");
        foreach (var error in errors)
        {
            json.WriteStartObject();
            json.WriteString("error_code", error.ErrorCode);
            json.WriteString("details", error.Details);
            json.WriteString("path", error.Path);
            json.WriteString("emr_error", error.EmrError);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    public static Task WriteAsync(HttpContext context, VardbroException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var status = ErrorTable.StatusOf(exception);
        var detail = exception.Errors.Count == 1 ? exception.Errors[0].Details : $"{exception.Errors.Count} problems with the request; see errors.";
        return WriteAsync(context, status, detail, exception.Errors);
    }

    /// <summary>The status a failure answers with, for the audit trail of requests that failed.</summary>
    public static int StatusOf(Exception exception) => exception switch
    {
        VardbroException v => ErrorTable.StatusOf(v),
        BadHttpRequestException b => b.StatusCode,
        EmrUnavailableException u => u.TimedOut ? 504 : 503,
        EmrBadAnswerException => 502,
        _ => 500,
    };
}

/// <summary>
/// A refusal (<see cref="VardbroException"/>: bad input, not found, a slot taken) answered at the end of the
/// endpoint that threw it, with the envelope <see cref="ErrorHandler"/> would write. Left to the exception
/// handler it would travel out through every middleware as an exception, each awaiting frame throwing it
/// again: tens of microseconds of CPU on every lost booking. The endpoint's own filters (audit, metrics)
/// still see the exception; the middlewares see an answered request.
/// </summary>
public static class Refusals
{
    public static RouteGroupBuilder AnsweredAtTheEndpoint(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (invocation, next) =>
        {
            try
            {
                return await next(invocation);
            }
            catch (VardbroException refusal) when (!invocation.HttpContext.Response.HasStarted)
            {
                await Problem.WriteAsync(invocation.HttpContext, refusal);
                return Results.Empty;
            }
        });
        return group;
    }
}

/// <summary>Turns every exception into the envelope; anything not ours is a bare 500 without detail.</summary>
public sealed partial class ErrorHandler(ILogger<ErrorHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        switch (exception)
        {
            case VardbroException v:
                await Problem.WriteAsync(httpContext, v);
                break;
            case BadHttpRequestException b:
                await Problem.WriteAsync(httpContext, Translate(b));
                break;
            case EmrUnavailableException u:
                LogEmrFailure(logger, httpContext.GetRouteValue("emr") as string, u.Message);
                await Problem.WriteAsync(httpContext, u.TimedOut ? 504 : 503, u.TimedOut ? "The EMR did not answer in time." : "The EMR cannot be reached right now.",
                    [new ApiError(u.TimedOut ? ErrorCodes.EmrError : ErrorCodes.ServiceUnavailable, u.Message, "emr")]);
                break;
            case EmrBadAnswerException e:
                LogEmrFailure(logger, httpContext.GetRouteValue("emr") as string, e.Message);
                await Problem.WriteAsync(httpContext, 502, "The EMR gave an answer Vardbro cannot use.", [new ApiError(ErrorCodes.EmrError, e.Message, "emr")]);
                break;
            default:
                LogUnexpected(logger, exception.GetType().FullName, httpContext.TraceIdentifier, exception);
                await Problem.WriteAsync(httpContext, 500, "An unexpected error occurred; quote the instance id when reporting it.", []);
                break;
        }

        return true;
    }

    private static VardbroException Translate(BadHttpRequestException exception)
    {
        switch (exception.StatusCode)
        {
            case 413:
                return new VardbroException(ErrorCodes.PayloadTooLarge, "The request body is larger than this endpoint accepts.", "body");
            case 415:
                return new UnsupportedMediaTypeException();
        }

        if (exception.InnerException is JsonException json)
        {
            var path = JsonPath(json.Path);
            if (json.Message.Contains("uplicate", StringComparison.Ordinal))
            {
                return new VardbroException(ErrorCodes.InvalidField, path is null ? "A key is given more than once in the body." : $"A key is given more than once in '{path}'.", path ?? "body");
            }

            return path is null
                ? new VardbroException(ErrorCodes.BadInput, "The request body is not valid JSON.", "body")
                : new VardbroException(ErrorCodes.InvalidField, $"The field '{path}' has the wrong type or is not valid JSON.", path);
        }

        if (exception.Message.Contains("body", StringComparison.OrdinalIgnoreCase))
        {
            return new VardbroException(ErrorCodes.MissingRequiredField, "The request needs a JSON body.", "body");
        }

        return new VardbroException(ErrorCodes.BadInput, "The request could not be read.", null);
    }

    private static string? JsonPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled {ExceptionType} in request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, string? exceptionType, string requestId, Exception exception);

    // For the operator: which EMR failed and how (the connectors' messages carry no personal data).
    [LoggerMessage(Level = LogLevel.Warning, Message = "EMR {Emr}: {Problem}")]
    private static partial void LogEmrFailure(ILogger logger, string? emr, string problem);
}

public static class ErrorPages
{
    /// <summary>Gives routing's bodiless 404/405 (and any other bodiless error) the envelope.</summary>
    public static Task WriteStatusCodePageAsync(StatusCodeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.HttpContext;
        var status = http.Response.StatusCode;
        var (code, detail) = status switch
        {
            404 => (ErrorCodes.NotFound, "No endpoint at this path; see /openapi/v1.json."),
            405 => (ErrorCodes.NotSupported, "This path does not take that HTTP method."),
            401 => (ErrorCodes.Unauthorized, "Authentication failed."),
            _ => (ErrorCodes.BadInput, "The request failed."),
        };
        return Problem.WriteAsync(http, status, detail, [new ApiError(code, detail, status is 404 or 405 ? "path" : null)]);
    }

    /// <summary>The error reference that every envelope's <c>type</c> points into, generated from <see cref="ErrorTable"/>.</summary>
    public static IResult Reference() => Results.Content(ErrorTable.ReferenceHtml(), "text/html; charset=utf-8");
}

/// <summary>The body is not in a media type the endpoint reads (415); the code stays <c>BAD_INPUT</c>.</summary>
public sealed class UnsupportedMediaTypeException : VardbroException
{
    public UnsupportedMediaTypeException()
        : base(ErrorCodes.BadInput, "Send the body as JSON with Content-Type: application/json.", "body")
    {
    }

    public UnsupportedMediaTypeException(string message)
        : base(message)
    {
    }

    public UnsupportedMediaTypeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
