using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>An example body for a request contract, shown in the OpenAPI document (JSON text).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OpenApiExampleAttribute(string json) : Attribute
{
    public string Json { get; } = json;
}

/// <summary>
/// Describes what the endpoint metadata cannot, by rules that hold for every route (also routes
/// added later): the credentials, the error responses each kind of operation can answer (from the
/// one error table), the headers of the API's conventions, the types the API's shared query
/// parameters really have, the allowed values (<see cref="AllowedValuesAttribute"/>), which request
/// fields are required (<see cref="RequiredAttribute"/>) and examples (<see cref="OpenApiExampleAttribute"/>).
/// </summary>
public static class OpenApiSetup
{
    public const string ClientId = "x-leyr-client-id";
    public const string ClientSecret = "x-leyr-client-secret";
    private const string AdminKey = "x-admin-key";
    private const string ProblemSchema = "Problem";
    private const string ProblemMediaType = "application/problem+json";
    private const string FhirMediaType = "application/fhir+json";

    /// <summary>What a shared query parameter name means, wherever it appears.</summary>
    private static readonly Dictionary<string, Func<OpenApiSchema>> QueryParameters = new(StringComparer.Ordinal)
    {
        ["limit"] = () => new() { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = "200", Description = "Page size; without it a list answers whole up to its cap." },
        ["_count"] = () => new() { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = "200", Description = "FHIR page size (= limit)." },
        ["start"] = DateTime,
        ["end"] = DateTime,
        ["from"] = DateTime,
        ["to"] = DateTime,
        ["updated_since"] = DateTime,
        ["after"] = () => new() { Type = JsonSchemaType.String, Description = "An event id (evt_…): the events after it." },
        ["types"] = () => new() { Type = JsonSchemaType.String, Description = "Comma-separated event types: " + string.Join(", ", ChangeEventTypes.All) + "." },
        ["birth_date"] = () => new() { Type = JsonSchemaType.String, Format = "date" },
        ["status"] = () => new() { Type = JsonSchemaType.String, Enum = Values(AppointmentStatuses.Booked, AppointmentStatuses.AwaitingConfirmation, AppointmentStatuses.Cancelled, AppointmentStatuses.Completed) },
    };

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Operations"] = "Liveness and readiness; no credentials.",
        ["Discovery"] = "The EMRs, care units, resources, services and note templates this client may use.",
        ["Availability"] = "Schedules and the free timeslots cut from them.",
        ["Patients"] = "Find, create and read patients.",
        ["Appointments"] = "Book, list, reschedule, confirm and cancel appointments.",
        ["Medical notes"] = "Unsigned medical notes written from templates.",
        ["Documents"] = "Patient documents (PDF, images, plain text).",
        ["Events"] = "The change feed: what changed in a care unit, by id, oldest first.",
        ["Webhooks"] = "Subscriptions of this client: signed deliveries of change events (Standard Webhooks).",
        ["FHIR"] = "The same reads as FHIR R4 resources.",
        ["Administration"] = "Clients, master data of the built-in EHR, audit trail and outbox (admin key).",
    };

    public static void Configure(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Vardbro API";
            document.Info.Description = "A self-hosted, Leyr-compatible healthcare integration API. Send x-leyr-client-id and x-leyr-client-secret on /api requests; /api/admin takes x-admin-key. Errors use the envelope described by the Problem schema; /docs/errors explains every code.";
            document.Info.License = new OpenApiLicense { Name = "Apache-2.0", Identifier = "Apache-2.0" };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            foreach (var header in new[] { ClientId, ClientSecret, AdminKey })
            {
                document.Components.SecuritySchemes[header] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = header,
                    Description = header == AdminKey ? "The operator's admin key (/api/admin only)." : "Sent together with the other client header on every /api request.",
                };
            }

            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            document.Components.Schemas[ProblemSchema] = Problem();
            AddWebhook(document);
            // Relative: the document is served by the server it describes, whatever its host.
            document.Servers = [new OpenApiServer { Url = "/", Description = "The server that serves this document." }];
            var used = document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []).SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>()).Select(t => t.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
            document.Tags = used.Order(StringComparer.Ordinal).Select(name => new OpenApiTag { Name = name, Description = TagDescriptions.GetValueOrDefault(name, $"The {name} endpoints.") }).ToHashSet();
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer((schema, context, _) =>
        {
            TransformSchema(schema, context);
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            TransformOperation(operation, context);
            return Task.CompletedTask;
        });
    }

    private static OpenApiSchema DateTime() => new() { Type = JsonSchemaType.String, Format = "date-time", Description = "ISO 8601 with a UTC offset, years 1900–2999." };

    private static List<JsonNode> Values(params string[] values) => values.Select(v => (JsonNode)JsonValue.Create(v)).ToList();

    private static void TransformSchema(OpenApiSchema schema, OpenApiSchemaTransformerContext context)
    {
        // The web defaults read numbers from strings too; the contract is a number.
        if (schema.Type is { } type && type.HasFlag(JsonSchemaType.String) && (type.HasFlag(JsonSchemaType.Integer) || type.HasFlag(JsonSchemaType.Number)))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        if (context.JsonPropertyInfo?.AttributeProvider is { } property
            && property.GetCustomAttributes(typeof(AllowedValuesAttribute), inherit: false).OfType<AllowedValuesAttribute>().FirstOrDefault() is { } allowed)
        {
            var target = schema.Type is { } t && t.HasFlag(JsonSchemaType.Array) && schema.Items is OpenApiSchema items ? items : schema;
            target.Enum = allowed.Values.Select(v => (JsonNode)JsonValue.Create(Convert.ToString(v, CultureInfo.InvariantCulture))!).ToList();
        }

        if (context.JsonTypeInfo.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object && schema.Properties is { Count: > 0 })
        {
            // Required: what the contract marks [Required], and what is always present and never null.
            var required = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in context.JsonTypeInfo.Properties)
            {
                var marked = p.AttributeProvider?.IsDefined(typeof(RequiredAttribute), inherit: false) == true;
                var listed = schema.Required?.Contains(p.Name) == true;
                if (marked || (listed && !IsNullable(p)))
                {
                    required.Add(p.Name);
                }
            }

            schema.Required = required;
            if (context.JsonTypeInfo.Type.GetCustomAttribute<OpenApiExampleAttribute>() is { } example)
            {
                schema.Examples = [JsonNode.Parse(example.Json)!];
            }
        }
    }

    private static bool IsNullable(System.Text.Json.Serialization.Metadata.JsonPropertyInfo property) =>
        property.AttributeProvider switch
        {
            PropertyInfo info => Nullable.GetUnderlyingType(info.PropertyType) is not null
                || (!info.PropertyType.IsValueType && new NullabilityInfoContext().Create(info).ReadState != NullabilityState.NotNull),
            _ => !property.PropertyType.IsValueType || Nullable.GetUnderlyingType(property.PropertyType) is not null,
        };

    private static void TransformOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var path = "/" + (context.Description.RelativePath ?? "");
        var method = context.Description.HttpMethod?.ToUpperInvariant() ?? "GET";
        var document = context.Document!;
        operation.Parameters ??= [];
        foreach (var parameter in operation.Parameters.OfType<OpenApiParameter>())
        {
            if (parameter.In == ParameterLocation.Query && parameter.Name is { } name && QueryParameters.TryGetValue(name, out var schema))
            {
                parameter.Schema = schema();
            }
        }

        operation.Responses ??= [];
        foreach (var (_, response) in operation.Responses)
        {
            if (response is OpenApiResponse r)
            {
                AddHeader(r, "x-request-id", "The request's id (a UUID); errors repeat it as instance.", new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" });
            }
        }

        var api = path.StartsWith("/api/", StringComparison.Ordinal);
        if (!api)
        {
            // Health and documentation: no credentials; a query parameter the route does not know is refused there too.
            operation.Security = [];
            AddErrorResponse(document, ErrorTable.Entry(400), fhir: false);
            operation.Responses["400"] = new OpenApiResponseReference(ErrorResponseName(400, false), document);
            return;
        }

        var admin = path.StartsWith("/api/admin/", StringComparison.Ordinal);
        var requirement = new OpenApiSecurityRequirement();
        foreach (var header in admin ? [AdminKey] : new[] { ClientId, ClientSecret })
        {
            requirement[new OpenApiSecuritySchemeReference(header, document)] = [];
        }

        operation.Security = [requirement];
        if (!admin)
        {
            operation.Parameters.Add(OptionalHeader(
                "x-actor-id",
                256,
                "The end user acting through the client (a clinician's HSA id, a patient's session); recorded in the audit trail (its first 256 characters)."));
        }

        var post = method == "POST";
        if (post)
        {
            operation.Parameters.Add(OptionalHeader(
                "Idempotency-Key",
                255,
                "Replays the first response for a retry with the same key and body within 24 hours; another body with the same key is 422 IDEMPOTENCY_KEY_REUSED."));
        }

        var paged = operation.Parameters.Any(p => p.In == ParameterLocation.Query && p.Name == "cursor");
        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse r || !status.StartsWith('2'))
            {
                continue;
            }

            if (paged)
            {
                AddHeader(r, "Link", "The next page, as <…>; rel=\"next\"; absent on the last page.", new OpenApiSchema { Type = JsonSchemaType.String });
            }

            if (post)
            {
                AddHeader(r, "Idempotent-Replayed", "true when this is the stored answer to an earlier request with the same Idempotency-Key.", new OpenApiSchema { Type = JsonSchemaType.String, Enum = Values("true") });
            }
        }

        // Every status the kind of operation can answer, each with the envelope and its meaning from the error table.
        var statuses = new List<int> { 400, 401, 404, 429 };
        if (!admin)
        {
            statuses.Add(403);
        }

        if (method is "POST" or "PUT" or "PATCH" or "DELETE")
        {
            statuses.Add(409);
        }

        if (operation.RequestBody is not null)
        {
            statuses.AddRange([413, 415]);
        }

        if (post)
        {
            statuses.Add(422);
        }

        if (path.StartsWith("/api/emrs/", StringComparison.Ordinal) || path.StartsWith("/api/fhir/", StringComparison.Ordinal))
        {
            statuses.AddRange([502, 503, 504]);
        }

        var fhir = path.StartsWith("/api/fhir/", StringComparison.Ordinal);
        foreach (var status in statuses.Order())
        {
            AddErrorResponse(document, ErrorTable.Entry(status), fhir);
            operation.Responses[status.ToString(CultureInfo.InvariantCulture)] = new OpenApiResponseReference(ErrorResponseName(status, fhir), document);
        }
    }

    private static OpenApiParameter OptionalHeader(string name, int maxLength, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = false,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = maxLength },
    };

    private static string ErrorResponseName(int status, bool fhir) => (fhir ? "FhirError" : "Error") + status.ToString(CultureInfo.InvariantCulture);

    /// <summary>One shared response per error status (and its FHIR form) that some operation answers, described from the error table.</summary>
    private static void AddErrorResponse(OpenApiDocument document, ErrorTable.StatusEntry entry, bool fhir)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Responses ??= new Dictionary<string, IOpenApiResponse>();
        var response = new OpenApiResponse
        {
            Description = $"{entry.Title}: {entry.Meaning} See /docs/errors#{entry.Anchor}.",
            Content = fhir
                ? new Dictionary<string, OpenApiMediaType>
                {
                    [FhirMediaType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object, Description = "A FHIR OperationOutcome: one issue per error of the envelope, with error_code in details.coding, path in expression, and the envelope's code and instance in extensions." } },
                }
                : new Dictionary<string, OpenApiMediaType>
                {
                    [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                },
        };
        AddHeader(response, "x-request-id", "The request's id (a UUID), repeated as instance.", new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" });
        if (entry.Status == 429)
        {
            AddHeader(response, "Retry-After", "Seconds to wait before retrying.", new OpenApiSchema { Type = JsonSchemaType.Integer });
        }

        document.Components.Responses.TryAdd(ErrorResponseName(entry.Status, fhir), response);
    }

    /// <summary>
    /// What a subscription's URL receives (OpenAPI 3.1 <c>webhooks</c>): a Standard Webhooks message whose
    /// <c>data</c> is the event as the feed lists it (or, for <c>webhook.test</c>, the webhook's id).
    /// </summary>
    private static void AddWebhook(OpenApiDocument document)
    {
        const string Payload = "WebhookPayload";
        document.Components!.Schemas![Payload] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The body of every delivery (Standard Webhooks): the event type, when it occurred, and the event.",
            Required = new HashSet<string> { "type", "timestamp", "data" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = Values([.. ChangeEventTypes.All, "webhook.test"]) },
                ["timestamp"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time", Description = "The event's occurred_at; the test message's time of queueing." },
                ["data"] = new OpenApiSchema
                {
                    OneOf =
                    [
                        new OpenApiSchemaReference("EventResponse", document),
                        new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Description = "The data of a webhook.test message.",
                            Required = new HashSet<string> { "webhook_id" },
                            Properties = new Dictionary<string, IOpenApiSchema> { ["webhook_id"] = new OpenApiSchema { Type = JsonSchemaType.String } },
                        },
                    ],
                },
            },
        };
        static OpenApiParameter Header(string name, string description) =>
            new() { Name = name, In = ParameterLocation.Header, Required = true, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
        document.Webhooks ??= new Dictionary<string, IOpenApiPathItem>();
        document.Webhooks["change-event"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Post] = new OpenApiOperation
                {
                    OperationId = "ReceiveChangeEvent",

                    // The receiver authenticates the sender by the signature, not by a security scheme.
                    Security = [],
                    Summary = "A delivery to a subscription's URL, signed per Standard Webhooks.",
                    Description = "Verify webhook-signature (v1, HMAC-SHA256 over \"{webhook-id}.{webhook-timestamp}.{body}\" with the base64-decoded part of the secret after whsec_) and the timestamp's age, e.g. with any Standard Webhooks library; de-duplicate by webhook-id. Any 2xx answer acknowledges; anything else is retried.",
                    Tags = new HashSet<OpenApiTagReference> { new("Webhooks", document) },
                    Parameters =
                    [
                        Header("webhook-id", "The message id: the event's id (evt_…), or msg_test_… for a test; the same on every retry."),
                        Header("webhook-timestamp", "Unix seconds when this attempt was sent."),
                        Header("webhook-signature", "v1, and the base64 HMAC-SHA256 signature."),
                    ],
                    RequestBody = new OpenApiRequestBody
                    {
                        Required = true,
                        Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchemaReference(Payload, document) } },
                    },
                    Responses = new OpenApiResponses { ["2XX"] = new OpenApiResponse { Description = "Received; any other answer is retried." } },
                },
            },
        };
    }

    private static void AddHeader(OpenApiResponse response, string name, string description, OpenApiSchema schema)
    {
        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers.TryAdd(name, new OpenApiHeader { Description = description, Schema = schema });
    }

    private static OpenApiSchema Problem()
    {
        static OpenApiSchema Text(string description) => new() { Type = JsonSchemaType.String, Description = description };
        static OpenApiSchema NullableText(string description) => new() { Type = JsonSchemaType.String | JsonSchemaType.Null, Description = description };
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The error envelope of every error response; /docs/errors explains each code and error_code.",
            Required = new HashSet<string> { "code", "type", "title", "status", "detail", "instance", "errors" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = Values([.. ErrorTable.Statuses.Select(s => s.Code).Distinct()]) },
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri", Description = "The absolute URL of the status's section in /docs/errors." },
                ["title"] = Text("The status's title."),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                ["detail"] = Text("A sentence saying what went wrong."),
                ["instance"] = Text("The x-request-id of the request."),
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Items = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Required = new HashSet<string> { "error_code", "details" },
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["error_code"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = Values([.. ErrorTable.Codes.Select(c => c.Code)]) },
                            ["details"] = Text("What to fix."),
                            ["path"] = NullableText("The parameter or field concerned."),
                            ["emr_error"] = NullableText("The EHR's own message, where there is one."),
                        },
                    },
                },
            },
        };
    }
}
