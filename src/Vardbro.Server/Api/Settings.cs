using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace Vardbro.Server.Api;

/// <summary>
/// Every setting of the server is bound to an options class (<see cref="AddSettings{T}"/>) and checked
/// before anything starts: the options' data annotations and <see cref="IValidatableObject"/> rules, and
/// keys in the section that no property takes (a misspelt setting would otherwise be ignored). Each
/// problem is one sentence beginning with the full key (<c>Documents:MaxSizeBytes must be …</c>).
/// </summary>
public static class Settings
{
    /// <summary>A key given as base64 (<c>openssl rand -base64 32</c>); null when that is not base64 of at least 32 bytes.</summary>
    public static byte[]? KeyFromBase64(string base64)
    {
        try
        {
            var key = Convert.FromBase64String(base64);
            return key.Length >= 32 ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Binds <typeparamref name="T"/> to <paramref name="section"/>, validated when the server starts.</summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services, string section)
        where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(sp => new SectionValidator<T>(section, sp.GetRequiredService<IConfiguration>()));
        return services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
    }

    /// <summary>
    /// Checks every setting (<see cref="AddSettings{T}"/>, and what <paramref name="more"/> reads), and
    /// returns the problems as one line, or null when all is well. A value the binder cannot convert
    /// (<c>Documents:MaxSizeBytes=lots</c>) is reported with its key as well.
    /// </summary>
    public static string? Problems(IServiceProvider services, params Action[] more)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(more);
        var problems = new List<string>();
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (OptionsValidationException ex)
        {
            problems.AddRange(ex.Failures);
        }
        catch (AggregateException ex)
        {
            problems.AddRange(ex.Flatten().InnerExceptions.SelectMany(e => e is OptionsValidationException o ? o.Failures : [e.Message]));
        }
        catch (InvalidOperationException ex)
        {
            // The configuration binder's own refusal ("Failed to convert configuration value … at 'key' …").
            problems.Add(ex.Message);
        }

        if (problems.Count == 0)
        {
            foreach (var check in more)
            {
                try
                {
                    check();
                }
                catch (InvalidOperationException ex)
                {
                    problems.Add(ex.Message);
                }
            }
        }

        return problems.Count == 0 ? null : "Configuration error: " + string.Join(" ", problems).ReplaceLineEndings(" ");
    }

    private sealed class SectionValidator<T>(string section, IConfiguration configuration) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var problems = new List<string>();
            Unknown(configuration.GetSection(section), typeof(T), problems);
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
            if (results.Count == 0 && options is IValidatableObject self)
            {
                results.AddRange(self.Validate(new ValidationContext(options)));
            }

            foreach (var result in results)
            {
                var member = result.MemberNames.FirstOrDefault();
                problems.Add($"{section}{(member is null ? "" : ":" + member)} {result.ErrorMessage}");
            }

            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }

        /// <summary>Keys below <paramref name="config"/> that no property of <paramref name="type"/> (or of its nested settings classes) takes.</summary>
        private static void Unknown(IConfigurationSection config, Type type, List<string> problems)
        {
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
            foreach (var child in config.GetChildren())
            {
                if (!properties.TryGetValue(child.Key, out var property))
                {
                    problems.Add($"{child.Path} is not a setting (known: {string.Join(", ", properties.Keys.Select(k => $"{config.Path}:{k}"))}).");
                }
                else if (property.PropertyType.IsClass && property.PropertyType != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(property.PropertyType))
                {
                    Unknown(child, property.PropertyType, problems);
                }
                else if (property.PropertyType.IsGenericType && property.PropertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>)
                    && property.PropertyType.GetGenericArguments()[1] is { IsClass: true } value && !typeof(IEnumerable).IsAssignableFrom(value))
                {
                    // A map of settings classes (RateLimits:Emrs:<code>:…): each entry's keys as well.
                    foreach (var entry in child.GetChildren())
                    {
                        Unknown(entry, value, problems);
                    }
                }
            }
        }
    }
}

/// <summary>The server cannot start, for a reason its message states in one line (the start prints it and exits with code 1).</summary>
public sealed class StartupFailedException(string message, Exception? inner = null) : Exception(message, inner);
