using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;
using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>
/// The query parameters an endpoint reads, as endpoint metadata: the names its handler binds from the
/// query (read off the handler's signature, <c>[AsParameters]</c> records included) and any added with
/// <see cref="QueryParameterExtensions.AcceptsQuery"/>. Each <c>snake_case</c> name also answers to its
/// camelCase form (<c>patientId</c>), the name in Leyr's older guides.
/// </summary>
public sealed class QueryParameters
{
    private QueryParameters(IReadOnlyCollection<string> names, bool repeatable)
    {
        Names = names;
        Aliases = names.Where(n => n.Contains('_', StringComparison.Ordinal) && !n.StartsWith('_'))
            .ToDictionary(CamelCase, n => n, StringComparer.Ordinal);
        Repeatable = repeatable;
    }

    /// <summary>The <c>snake_case</c> names the endpoint binds.</summary>
    public IReadOnlyCollection<string> Names { get; }

    /// <summary>camelCase alias → its <c>snake_case</c> name.</summary>
    public IReadOnlyDictionary<string, string> Aliases { get; }

    private bool Repeatable { get; }

    /// <summary>The endpoint's accepted names: from its metadata where one was added, else from its handler.</summary>
    public static QueryParameters? Of(Endpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.Metadata.GetMetadata<MethodInfo>() is not { } method || endpoint is not RouteEndpoint route)
        {
            return null;
        }

        return Cache.GetOrAdd(endpoint, _ =>
        {
            var routeNames = route.RoutePattern.Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var names = new HashSet<string>(StringComparer.Ordinal);
            var repeatable = false;
            foreach (var parameter in method.GetParameters())
            {
                repeatable |= Collect(parameter.ParameterType, parameter.Name, parameter, routeNames, names);
            }

            foreach (var extra in endpoint.Metadata.GetOrderedMetadata<AcceptsQueryMetadata>())
            {
                names.UnionWith(extra.Names);
            }

            return new QueryParameters(names, repeatable);
        });
    }

    private static readonly ConcurrentDictionary<Endpoint, QueryParameters> Cache = new();

    /// <summary>
    /// The request's query with aliases read as their <c>snake_case</c> names; a refusal naming the first
    /// parameter the endpoint does not read, or one given twice (by both names, or repeated).
    /// </summary>
    public QueryCollection? Normalize(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        Dictionary<string, StringValues>? renamed = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var errors = new List<ApiError>();
        foreach (var (key, value) in query)
        {
            var name = key;
            if (!Names.Contains(key))
            {
                if (!Aliases.TryGetValue(key, out var target))
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidField, Names.Count == 0
                        ? $"Unknown query parameter '{Shown(key)}': this operation takes no query parameters."
                        : $"Unknown query parameter '{Shown(key)}'; this operation takes {string.Join(", ", Names.Order(StringComparer.Ordinal))}.", Shown(key)));
                    continue;
                }

                name = target;
                renamed ??= new(StringComparer.OrdinalIgnoreCase);
            }

            if (!seen.Add(name))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"'{Shown(key)}' names the same parameter as '{name}'; give it once.", Shown(key)));
            }
            else if (value.Count > 1 && !Repeatable)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"'{Shown(key)}' is given more than once; give it once.", Shown(key)));
            }
        }

        Http.ThrowIfAny(errors);
        if (renamed is null)
        {
            return null;
        }

        foreach (var (key, value) in query)
        {
            renamed[Aliases.GetValueOrDefault(key, key)] = value;
        }

        return new QueryCollection(renamed);
    }

    /// <summary><c>healthcare_service_id</c> → <c>healthcareServiceId</c>.</summary>
    public static string CamelCase(string snake)
    {
        ArgumentNullException.ThrowIfNull(snake);
        var text = new StringBuilder(snake.Length);
        var upper = false;
        foreach (var c in snake)
        {
            if (c == '_')
            {
                upper = true;
                continue;
            }

            text.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return text.ToString();
    }

    // A parameter name is the client's text: cut and without control characters before it is echoed.
    private static string Shown(string key)
    {
        var clean = new string(key.Where(c => !char.IsControl(c)).Take(64).ToArray());
        return clean.Length == 0 ? "?" : clean;
    }

    /// <summary>Adds the query names <paramref name="type"/> binds; true when one of them takes several values.</summary>
    private static bool Collect(Type type, string? name, ICustomAttributeProvider attributes, HashSet<string> routeNames, HashSet<string> names)
    {
        if (Has<FromRouteAttribute>(attributes) || Has<FromServicesAttribute>(attributes) || Has<FromBodyAttribute>(attributes)
            || Has<FromHeaderAttribute>(attributes) || Has<FromFormAttribute>(attributes) || Has<FromKeyedServicesAttribute>(attributes))
        {
            return false;
        }

        if (Has<AsParametersAttribute>(attributes))
        {
            var repeatable = false;
            var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
            if (constructor is { } c && c.GetParameters().Length > 0)
            {
                foreach (var p in c.GetParameters())
                {
                    // A record's attributes may sit on its property rather than its constructor parameter.
                    var property = properties.FirstOrDefault(x => x.Name == p.Name);
                    repeatable |= Collect(p.ParameterType, p.Name, Combined(p, property), routeNames, names);
                }
            }
            else
            {
                foreach (var property in properties.Where(p => p.CanWrite))
                {
                    repeatable |= Collect(property.PropertyType, property.Name, property, routeNames, names);
                }
            }

            return repeatable;
        }

        var fromQuery = attributes.GetCustomAttributes(typeof(FromQueryAttribute), true).OfType<FromQueryAttribute>().FirstOrDefault();
        var bound = fromQuery?.Name ?? name;
        if (bound is null || (fromQuery is null && (routeNames.Contains(bound) || !IsSimple(type))))
        {
            return false;
        }

        names.Add(bound);
        return type.IsArray || (type.IsGenericType && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) && type != typeof(string));
    }

    private static bool Has<T>(ICustomAttributeProvider attributes) => attributes.IsDefined(typeof(T), true);

    /// <summary>What minimal APIs bind from the query by default: strings and types with a <c>TryParse</c>, and arrays of them.</summary>
    private static bool IsSimple(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? (type.IsArray ? type.GetElementType()! : type);
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t == typeof(string) || t == typeof(StringValues) || t.IsEnum || t.IsPrimitive
            || t.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), t.MakeByRefType()]) is not null
            || t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IParsable<>));
    }

    private static ICustomAttributeProvider Combined(ParameterInfo parameter, PropertyInfo? property) =>
        property is null ? parameter : new BothAttributes(parameter, property);

    private sealed class BothAttributes(ICustomAttributeProvider first, ICustomAttributeProvider second) : ICustomAttributeProvider
    {
        public object[] GetCustomAttributes(bool inherit) => [.. first.GetCustomAttributes(inherit), .. second.GetCustomAttributes(inherit)];

        public object[] GetCustomAttributes(Type attributeType, bool inherit) =>
            [.. first.GetCustomAttributes(attributeType, inherit), .. second.GetCustomAttributes(attributeType, inherit)];

        public bool IsDefined(Type attributeType, bool inherit) => first.IsDefined(attributeType, inherit) || second.IsDefined(attributeType, inherit);
    }
}

/// <summary>Query names an endpoint reads beyond those its handler's signature binds.</summary>
public sealed record AcceptsQueryMetadata(IReadOnlyList<string> Names);

public static class QueryParameterExtensions
{
    /// <summary>The endpoint also reads these query parameters (from the request itself, not its signature).</summary>
    public static TBuilder AcceptsQuery<TBuilder>(this TBuilder builder, params string[] names)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AcceptsQueryMetadata(names));
}

/// <summary>
/// Refuses, on every <c>/api</c> route, a query parameter the endpoint does not read (400
/// <c>INVALID_FIELD</c> naming it), so that a misspelled filter never widens an answer; reads Leyr's
/// camelCase names as their <c>snake_case</c> twins before the handler binds them. Runs after routing
/// and authentication.
/// </summary>
public sealed class QueryParameterMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (LeyrStandard.RefusalOf(context) is { } refusal)
        {
            await Problem.WriteAsync(context, refusal);
            return;
        }

        if (context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
            && context.GetEndpoint() is { } endpoint
            && QueryParameters.Of(endpoint) is { } accepted)
        {
            try
            {
                if (accepted.Normalize(context.Request.Query) is { } normalized)
                {
                    context.Request.Query = normalized;
                }
            }
            catch (VardbroException ex)
            {
                await Problem.WriteAsync(context, ex);
                return;
            }
        }

        await next(context);
    }
}
