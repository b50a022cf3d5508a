using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Vardbro.Server.Api;

/// <summary>Describes what the endpoint metadata cannot: the credentials and the error envelope.</summary>
public static class OpenApiSetup
{
    public const string ClientId = "x-leyr-client-id";
    public const string ClientSecret = "x-leyr-client-secret";
    private const string AdminKey = "x-admin-key";
    private const string ProblemSchema = "Problem";

    public static void Configure(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Vardbro API";
            document.Info.Description = "A self-hosted, Leyr-compatible healthcare integration API. Send x-leyr-client-id and x-leyr-client-secret on /api requests; /api/admin takes x-admin-key. Errors use the envelope described by the Problem schema; see /docs/errors.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            foreach (var header in new[] { ClientId, ClientSecret, AdminKey })
            {
                document.Components.SecuritySchemes[header] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = header };
            }

            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            document.Components.Schemas[ProblemSchema] = Problem();
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var path = "/" + (context.Description.RelativePath ?? "");
            if (!path.StartsWith("/api/", StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }

            var document = context.Document!;
            var requirement = new OpenApiSecurityRequirement();
            var headers = path.StartsWith("/api/admin/", StringComparison.Ordinal) ? new[] { AdminKey } : [ClientId, ClientSecret];
            foreach (var header in headers)
            {
                requirement[new OpenApiSecuritySchemeReference(header, document)] = [];
            }

            operation.Security = [requirement];
            if (string.Equals(context.Description.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase))
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "Idempotency-Key",
                    In = ParameterLocation.Header,
                    Required = false,
                    Description = "Replays the first response for a retry with the same key and body within 24 hours; another body with the same key is 422 IDEMPOTENCY_KEY_REUSED.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
            }

            operation.Responses ??= [];

            // The FHIR routes answer errors with the same envelope as an OperationOutcome (docs/api.md).
            var fhir = path.StartsWith("/api/fhir/", StringComparison.Ordinal);
            foreach (var (status, description) in new[]
            {
                ("400", "The request is invalid; errors[] names each problem."),
                ("401", "Missing or wrong credentials."),
                ("403", "The client is not granted this EMR or care unit."),
                ("404", "No such record (or one outside the client's grants)."),
            })
            {
                operation.Responses.TryAdd(status, new OpenApiResponse
                {
                    Description = description,
                    Content = fhir
                        ? new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/fhir+json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object, Description = "A FHIR OperationOutcome: one issue per error of the envelope, with error_code in details.coding, path in expression, and the envelope's code and instance in extensions." } },
                        }
                        : new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                        },
                });
            }

            return Task.CompletedTask;
        });
    }

    private static OpenApiSchema Problem()
    {
        static OpenApiSchema Text() => new() { Type = JsonSchemaType.String };
        static OpenApiSchema NullableText() => new() { Type = JsonSchemaType.String | JsonSchemaType.Null };
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The error envelope of every error response.",
            Required = new HashSet<string> { "code", "type", "title", "status", "detail", "instance", "errors" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["code"] = Text(),
                ["type"] = Text(),
                ["title"] = Text(),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["detail"] = Text(),
                ["instance"] = Text(),
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Items = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["error_code"] = Text(),
                            ["details"] = Text(),
                            ["path"] = NullableText(),
                            ["emr_error"] = NullableText(),
                        },
                    },
                },
            },
        };
    }
}
