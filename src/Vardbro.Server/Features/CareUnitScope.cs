using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Mvc;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Features;

/// <summary>
/// What every handler under <c>…/emrs/{emr}/care-units/{care_unit_id}</c> works in: the two route
/// values, the request, the connectors, the clock, and the care unit itself, resolved once per request
/// by <see cref="Resolve"/> (the groups' filter). Bound with <c>[AsParameters]</c>, first in each
/// handler, so the document still lists <c>emr</c> and <c>care_unit_id</c> first, as path parameters.
/// </summary>
public sealed class CareUnitScope
{
    private CareUnit? unit;
    private EmrDefinition? definition;
    private ExceptionDispatchInfo? failure;

    [FromRoute(Name = "emr")]
    public string Emr { get; init; } = string.Empty;

    [FromRoute(Name = "care_unit_id")]
    public string CareUnitId { get; init; } = string.Empty;

    public HttpContext HttpContext { get; init; } = null!;

    [FromServices]
    public EmrConnectors Connectors { get; init; } = null!;

    [FromServices]
    public TimeProvider Time { get; init; } = null!;

    /// <summary>The request's <c>RequestAborted</c>.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// The care unit of the path. A bad <c>care_unit_id</c> (400 <c>INVALID_CARE_UNIT_ID</c>), an unknown EMR
    /// (404 on <c>emr</c>) or an unknown unit (404 on <c>care_unit_id</c>) is thrown here, where the
    /// handler first reads it: inside the endpoint's own filters, so the audit trail records it as any
    /// other refusal of the request.
    /// </summary>
    public CareUnit Unit
    {
        get
        {
            ThrowIfUnresolved();
            return unit!;
        }
    }

    /// <summary>The EMR's configuration (its id types, its connector).</summary>
    public EmrDefinition Definition
    {
        get
        {
            ThrowIfUnresolved();
            return definition!;
        }
    }

    /// <summary>Today's date in the care unit's time zone.</summary>
    public DateOnly Today => Http.Today(Time, Unit.TimeZone);

    /// <summary>The EMR's connector as <typeparamref name="T"/>; 400 NOT_SUPPORTED where it lacks it.</summary>
    public T Require<T>()
        where T : class => Connectors.Require<T>(Emr);

    /// <summary>What an audited endpoint tells the audit trail.</summary>
    public AuditScope Audit => AuditScope.Of(HttpContext);

    /// <summary>Vardbro's own id of the EMR's patient <paramref name="emrId"/>.</summary>
    public string VardbroPatientId(string emrId) => Ids.VardbroPatientId(Emr, emrId);

    /// <summary>
    /// The care-unit route groups' filter: resolves the unit of the handler's scope before the handler
    /// runs. Endpoints of the group that take no <see cref="CareUnitScope"/> are left as they are.
    /// </summary>
    public static EndpointFilterDelegate Resolve(EndpointFilterFactoryContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        var index = Array.FindIndex(context.MethodInfo.GetParameters(), p => p.ParameterType == typeof(CareUnitScope));
        if (index < 0)
        {
            return next;
        }

        return async invocation =>
        {
            await invocation.GetArgument<CareUnitScope>(index).ResolveAsync();
            return await next(invocation);
        };
    }

    /// <summary>
    /// The scope of a route that names no care unit but a record held by one (Leyr's older appointment
    /// routes): the unit the record was found at, resolved as the care-unit groups resolve theirs, with
    /// that unit as the request's <c>care_unit_id</c> route value, so that the audit trail records it as on
    /// the care-unit route. The caller has checked the client's grant.
    /// </summary>
    internal static async Task<CareUnitScope> ForUnitAsync(HttpContext context, string emr, string careUnitId)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Request.RouteValues["care_unit_id"] = careUnitId;
        var scope = new CareUnitScope
        {
            Emr = emr,
            CareUnitId = careUnitId,
            HttpContext = context,
            Connectors = context.RequestServices.GetRequiredService<EmrConnectors>(),
            Time = context.RequestServices.GetRequiredService<TimeProvider>(),
            CancellationToken = context.RequestAborted,
        };
        await scope.ResolveAsync();
        return scope;
    }

    private async Task ResolveAsync()
    {
        try
        {
            if (CareUnitId.Length is 0 or > 128 || CareUnitId.Any(char.IsControl))
            {
                throw new VardbroException(ErrorCodes.InvalidCareUnitId, "care_unit_id must be 1–128 printable characters.", "care_unit_id");
            }

            unit = await Connectors.Require<ICareUnitDirectory>(Emr).GetCareUnitAsync(CareUnitId, CancellationToken)
                ?? throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", "care_unit_id");
            definition = Connectors.Definition(Emr);
        }
        catch (Exception ex)
        {
            // Surfaced by the handler's first read of Unit, within the endpoint's filters (the audit).
            failure = ExceptionDispatchInfo.Capture(ex);
        }
    }

    private void ThrowIfUnresolved()
    {
        failure?.Throw();
        if (unit is null)
        {
            throw new InvalidOperationException("The care unit is resolved by CareUnitScope.Resolve, the filter of the care-unit route groups; this endpoint is not in one.");
        }
    }
}
