using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Admin;

public sealed record GrantBody(string? Emr, IReadOnlyList<string?>? CareUnits);

public sealed record CreateClientRequest([property: Required] string? Name, [property: Required] IReadOnlyList<GrantBody?>? Grants);

public sealed record UpdateGrantsRequest([property: Required] IReadOnlyList<GrantBody?>? Grants);

public sealed record GrantResponse(string Emr, IReadOnlyList<string> CareUnits);

public sealed record ClientResponse(string ClientId, string Name, IReadOnlyList<GrantResponse> Grants, DateTimeOffset CreatedAt)
{
    public static ClientResponse From(ClientRow x) => new(
        x.Id, x.Name, Secrets.DeserializeGrants(x.GrantsJson).Select(g => new GrantResponse(g.Emr, g.CareUnits)).ToList(), x.CreatedAt);
}

/// <summary>A client's credentials; the secret appears in this response only.</summary>
public sealed record ClientCredentialsResponse(string ClientId, string ClientSecret, string Name, IReadOnlyList<GrantResponse> Grants);

public static class ClientsEndpoints
{
    public static void MapClientsAdmin(this IEndpointRouteBuilder admin)
    {
        var group = admin.MapGroup("/clients").WithTags("Administration");
        group.MapPost("/", CreateClient).WithMetadata(new SecretResponseAttribute()).WithName("CreateClient").WithSummary("Create an API client; the secret is shown only in this response.");
        group.MapGet("/", ListClients).WithName("ListClients").WithSummary("The API clients that are not revoked (never their secrets).");
        group.MapPut("/{client_id}/grants", UpdateGrants).WithName("UpdateClientGrants").WithSummary("Replace a client's grants; effective on its next request (within 2 s on other instances).");
        group.MapPost("/{client_id}/secret", RotateSecret).WithMetadata(new SecretResponseAttribute()).WithName("RotateClientSecret").WithSummary("Give a client a new secret (shown once); the old one stops working at once (within 2 s on other instances).");
        group.MapDelete("/{client_id}", RevokeClient).WithName("RevokeClient").WithSummary("Revoke a client; its next request is refused (within 2 s on other instances).");
    }

    public static async Task<Created<ClientCredentialsResponse>> CreateClient(CreateClientRequest body, VardbroDb db, EmrCatalog emrs, SecretHasher hasher, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var name = Http.Text(body.Name, "name", 256, errors, required: true);
        var grants = ReadGrants(body.Grants, emrs, errors);
        Http.ThrowIfAny(errors);
        var secret = Secrets.NewSecret();
        var row = new ClientRow
        {
            Id = Secrets.NewClientId(),
            Name = name!,
            SecretHash = hasher.Hash(secret),
            SecretStamp = Secrets.NewStamp(),
            GrantsJson = Secrets.SerializeGrants(grants),
            CreatedAt = time.GetUtcNow(),
        };
        db.Clients.Add(row);
        await db.SaveChangesAsync(cancellationToken);
        var response = ClientResponse.From(row);
        return TypedResults.Created($"/api/admin/clients/{row.Id}", new ClientCredentialsResponse(row.Id, secret, row.Name, response.Grants));
    }

    public static async Task<Ok<ClientResponse[]>> ListClients(VardbroDb db, CancellationToken cancellationToken)
    {
        var rows = await db.Clients.AsNoTracking().Where(c => c.RevokedAt == null).OrderBy(c => c.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(rows.Select(ClientResponse.From).ToArray());
    }

    public static async Task<Ok<ClientResponse>> UpdateGrants(string client_id, UpdateGrantsRequest body, VardbroDb db, EmrCatalog emrs, VerifiedSecretCache verified, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var grants = ReadGrants(body.Grants, emrs, errors);
        Http.ThrowIfAny(errors);
        var row = await FindAsync(db, client_id, cancellationToken);
        row.GrantsJson = Secrets.SerializeGrants(grants);
        await db.SaveChangesAsync(cancellationToken);
        verified.Forget(row.Id);
        return TypedResults.Ok(ClientResponse.From(row));
    }

    public static async Task<Ok<ClientCredentialsResponse>> RotateSecret(string client_id, VardbroDb db, SecretHasher hasher, VerifiedSecretCache verified, CancellationToken cancellationToken)
    {
        var row = await FindAsync(db, client_id, cancellationToken);
        var secret = Secrets.NewSecret();
        row.SecretHash = hasher.Hash(secret);
        row.SecretStamp = Secrets.NewStamp();
        await db.SaveChangesAsync(cancellationToken);
        verified.Forget(row.Id);
        return TypedResults.Ok(new ClientCredentialsResponse(row.Id, secret, row.Name, ClientResponse.From(row).Grants));
    }

    public static async Task<NoContent> RevokeClient(string client_id, VardbroDb db, TimeProvider time, VerifiedSecretCache verified, CancellationToken cancellationToken)
    {
        var row = await FindAsync(db, client_id, cancellationToken);
        row.RevokedAt = time.GetUtcNow();
        row.SecretStamp = Secrets.NewStamp();
        await db.SaveChangesAsync(cancellationToken);
        verified.Forget(row.Id);
        return TypedResults.NoContent();
    }

    private static async Task<ClientRow> FindAsync(VardbroDb db, string clientId, CancellationToken cancellationToken) =>
        await db.Clients.FirstOrDefaultAsync(c => c.Id == clientId && c.RevokedAt == null, cancellationToken)
        ?? throw new VardbroException(ErrorCodes.NotFound, "No client with that id.", "client_id");

    private static List<Grant> ReadGrants(IReadOnlyList<GrantBody?>? grants, EmrCatalog emrs, List<ApiError> errors)
    {
        var result = new List<Grant>();
        if (grants is null)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "grants is required: a list of {emr, care_units}.", "grants"));
            return result;
        }

        for (var i = 0; i < grants.Count; i++)
        {
            var path = $"grants[{i}]";
            var grant = grants[i];
            if (grant?.Emr is not { } emr || emrs.Find(emr) is null)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "emr must name a configured EMR.", $"{path}.emr"));
                continue;
            }

            if (grant.CareUnits is not { Count: > 0 } units || units.Any(u => string.IsNullOrWhiteSpace(u) || u.Length > 128 || u.Any(char.IsControl)))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "care_units must be [\"*\"] or a list of care unit ids.", $"{path}.care_units"));
                continue;
            }

            var existing = result.FindIndex(g => g.Emr == emr);
            var merged = units.OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            if (existing >= 0)
            {
                merged = [.. result[existing].CareUnits.Union(merged)];
                result[existing] = new Grant(emr, merged);
            }
            else
            {
                result.Add(new Grant(emr, merged));
            }
        }

        return result;
    }
}
