using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;
using Vardbro.Server.Features.Fhir;
using Vardbro.Server.Tests.Documents;
using Vardbro.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>One answer of a FHIR route: what was asked, the status, and the parsed resource.</summary>
public sealed record FhirAnswer(string Url, HttpStatusCode Status, Resource Resource);

/// <summary>
/// Client-script helpers for the FHIR routes: the OperationOutcome of an error, a tour of every FHIR
/// route with data behind it, the references and URLs in an answer, and Firely's R4 validator.
/// </summary>
public static class FhirConformance
{
    public static readonly JsonSerializerOptions Strict =
        new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector).UsingMode(DeserializationMode.Strict);

    /// <summary>
    /// Asserts an error on a FHIR route: an <c>OperationOutcome</c> whose issues carry the envelope's
    /// <c>error_code</c>, <c>path</c>, <c>code</c> and <c>instance</c>; returns it.
    /// </summary>
    public static async Task<OperationOutcome> GetOutcomeAsync(this HttpClient client, string url, HttpStatusCode status, string? errorCode = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var response = await client.GetAsync(new Uri(url, UriKind.RelativeOrAbsolute));
        return await response.OutcomeAsync(status, errorCode, path);
    }

    public static async Task<OperationOutcome> OutcomeAsync(this HttpResponseMessage response, HttpStatusCode status, string? errorCode = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        var outcome = Assert.IsType<OperationOutcome>(JsonSerializer.Deserialize<Resource>(body, Strict));
        Assert.NotEmpty(outcome.Issue);
        var requestId = response.Headers.GetValues("x-request-id").Single();
        Assert.All(outcome.Issue, issue =>
        {
            Assert.Equal(requestId, Extension<FhirString>(issue, FhirOutcome.InstanceExtension));
            Assert.False(string.IsNullOrEmpty(Extension<Code>(issue, FhirOutcome.CodeExtension)));
            Assert.False(string.IsNullOrEmpty(issue.Details?.Text));
            Assert.NotNull(issue.Code);
        });
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        if (errorCode is not null)
        {
            Assert.Contains(errorCode, outcome.Issue.Select(ErrorCode));
        }

        if (path is not null)
        {
            Assert.Contains(path, outcome.Issue.SelectMany(i => i.Expression));
        }

        return outcome;
    }

    public static string? ErrorCode(OperationOutcome.IssueComponent issue) =>
        issue?.Details?.Coding.SingleOrDefault(c => c.System == FhirOutcome.ErrorCodeSystem)?.Code;

    public static string? Extension<T>(OperationOutcome.IssueComponent issue, string url)
        where T : PrimitiveType => (issue?.Extension.SingleOrDefault(e => e.Url == url)?.Value as T)?.ToString();

    /// <summary>
    /// GETs every FHIR route of <paramref name="fhir"/> with data behind it: the care unit, the
    /// metadata, a patient (searched and read), the resources, a resource's schedule, the services,
    /// free slots, an appointment booked, a note and a document written (listed and read), and errors.
    /// </summary>
    public static async Task<List<FhirAnswer>> TourAsync(HttpClient client, string json, string fhir, string patientId, string resourceId)
    {
        ArgumentNullException.ThrowIfNull(client);
        var slot = (await client.GetJsonAsync($"{json}/timeslots?resource_id={resourceId}"))[0]!;
        var serviceId = (string?)slot["healthcare_service_id"];
        var booked = (await client.PostJsonAsync($"{json}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = patientId,
            resource_id = resourceId,
            healthcare_service_id = serviceId,
            comment = "FHIR tour",
        }, HttpStatusCode.Created)).AsArray()[0]!;
        var note = await client.PostJsonAsync($"{json}/patients/{patientId}/medical-notes", new
        {
            template_id = "leyr_unstructured",
            title = "Telefonkontakt",
            created_by_id = resourceId,
            content = new { unstructured = "Ringde, mår bättre." },
        }, HttpStatusCode.Created);
        var document = await client.PostJsonAsync($"{json}/patients/{patientId}/documents", new JsonObject
        {
            ["content"] = Convert.ToBase64String(DocumentsTests.Pdf(300)),
            ["format"] = "application/pdf",
            ["title"] = "Remissvar",
            ["type"] = "Referral",
            ["created_by_id"] = resourceId,
        }.ToJsonString(), HttpStatusCode.Created);
        var service = (string)(await client.GetJsonAsync($"{json}/healthcare-services"))[0]!["id"]!;
        var start = Uri.EscapeDataString(TimeProvider.System.GetUtcNow().AddDays(-1).ToString("O", CultureInfo.InvariantCulture));

        string[] ok =
        [
            fhir,
            $"{fhir}/metadata",
            $"{fhir}/patients?last_name=tolvansson",
            $"{fhir}/patients?last_name=tolvansson&_count=1",
            $"{fhir}/patients/{patientId}",
            $"{fhir}/resources",
            $"{fhir}/resources/{resourceId}",
            $"{fhir}/Schedule/{resourceId}",
            $"{fhir}/Patient/{patientId}",
            $"{fhir}/healthcare-services",
            $"{fhir}/healthcare-services/{Uri.EscapeDataString(service)}",
            $"{fhir}/timeslots?resource_id={resourceId}",
            $"{fhir}/appointments?patient_id={patientId}&start={start}",
            $"{fhir}/appointments/{Uri.EscapeDataString((string)booked["id"]!)}",
            $"{fhir}/patients/{patientId}/medical-notes",
            $"{fhir}/patients/{patientId}/medical-notes/{Uri.EscapeDataString((string)note["id"]!)}",
            $"{fhir}/patients/{patientId}/documents",
            $"{fhir}/patients/{patientId}/documents/{Uri.EscapeDataString((string)document["id"]!)}",
        ];
        (string Url, HttpStatusCode Status)[] errors =
        [
            ($"{fhir}/patients/emr_id:nobody", HttpStatusCode.NotFound),
            ($"{fhir}/patients?last_name=x&limit=500", HttpStatusCode.BadRequest),
            ($"{fhir}/patients?last_name=x&limit=5&_count=5", HttpStatusCode.BadRequest),
            ($"{fhir}/no-such-route", HttpStatusCode.NotFound),
        ];
        var answers = new List<FhirAnswer>();
        foreach (var (url, status) in ok.Select(u => (u, HttpStatusCode.OK)).Concat(errors))
        {
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{url}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
            answers.Add(new FhirAnswer(url, status, JsonSerializer.Deserialize<Resource>(body, Strict)!));
        }

        return answers;
    }

    /// <summary>Every URL an answer gives to follow: entry fullUrls, Bundle links, references, attachment and implementation URLs.</summary>
    public static IEnumerable<(string Kind, string Url, string? Type)> Links(Resource resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource is Bundle bundle)
        {
            foreach (var link in bundle.Link)
            {
                yield return ("Bundle.link", link.Url!, null);
            }

            foreach (var entry in bundle.Entry)
            {
                yield return ("fullUrl", entry.FullUrl!, entry.Resource!.TypeName);
            }
        }

        if (resource is CapabilityStatement statement)
        {
            yield return ("implementation.url", statement.Implementation!.Url!, "Location");
        }

        foreach (var element in Descendants(resource))
        {
            switch (element)
            {
                case ResourceReference reference:
                    yield return ("reference", reference.Reference!, reference.Type);
                    break;
                case Attachment { Url: { } url }:
                    yield return ("attachment", url, null);
                    break;
            }
        }
    }

    private static IEnumerable<Base> Descendants(Base element)
    {
        foreach (var (_, value) in element.EnumerateElements())
        {
            var children = value switch
            {
                Base child => [child],
                IEnumerable<Base> list => list,
                _ => [],
            };
            foreach (var child in children)
            {
                yield return child;
                foreach (var descendant in Descendants(child))
                {
                    yield return descendant;
                }
            }
        }
    }

    /// <summary>
    /// Follows every link of every answer: each must answer 200, a fullUrl with the entry's own resource,
    /// a typed reference with a resource of its type. Returns how many were followed.
    /// </summary>
    public static async Task<int> FollowAllAsync(HttpClient client, IEnumerable<FhirAnswer> answers, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(output);
        var followed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var answer in answers.Where(a => a.Status == HttpStatusCode.OK))
        {
            var entries = answer.Resource is Bundle b ? b.Entry.ToDictionary(e => e.FullUrl!, e => e.Resource!) : [];
            foreach (var (kind, url, type) in Links(answer.Resource))
            {
                Assert.True(Uri.TryCreate(url, UriKind.Absolute, out var uri), $"{answer.Url}: {kind} '{url}' is not an absolute URL");
                if (!followed.Add(kind + " " + url))
                {
                    continue;
                }

                using var response = await client.GetAsync(uri);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{answer.Url}: {kind} {url} answered {(int)response.StatusCode}: {body}");
                if (kind == "attachment")
                {
                    continue;
                }

                var target = JsonSerializer.Deserialize<Resource>(body, Strict)!;
                if (kind == "fullUrl")
                {
                    var entry = entries[url];
                    Assert.Equal((entry.TypeName, entry.Id), (target.TypeName, target.Id));
                }
                else if (type is not null)
                {
                    Assert.True(type == target.TypeName, $"{answer.Url}: {kind} {url} is typed {type} but answers a {target.TypeName}");
                }
            }
        }

        output.WriteLine($"followed {followed.Count} links");
        return followed.Count;
    }

    /// <summary>Firely's validator over the R4 core specification (not thread-safe: one per test).</summary>
    public static Validator NewValidator()
    {
        var source = new CachedResolver(ZipSource.CreateValidationSource());
        return new Validator(source, new LocalTerminologyService(source));
    }

    /// <summary>Validates every answer; warnings are written to the test output, errors returned.</summary>
    public static List<string> Validate(IEnumerable<FhirAnswer> answers, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var validator = NewValidator();
        var errors = new List<string>();
        foreach (var answer in answers)
        {
            var outcome = validator.Validate(answer.Resource);
            foreach (var issue in outcome.Issue)
            {
                var line = $"{answer.Url} ({answer.Resource.TypeName}): {issue.Severity} {issue.Code} {issue.Details?.Text} @ {string.Join(", ", issue.Expression)}";
                if (issue.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal)
                {
                    errors.Add(line);
                }

                output.WriteLine(line);
            }
        }

        output.WriteLine($"validated {answers.Count()} answers, {errors.Count} errors");
        return errors;
    }
}
