using System.ComponentModel.DataAnnotations;
using Npgsql;

namespace Vardbro.Server.Storage;

/// <summary>
/// <c>Storage:*</c>: where the data lives. <c>Provider</c> is <c>sqlite</c> (the default) or
/// <c>postgres</c> (then <c>ConnectionStrings:Vardbro</c> is required). <c>DataDirectory</c> holds the
/// SQLite files and document bytes; relative to the content root where given, and by default outside
/// the application's own directory (<see cref="DefaultDataDirectory"/>), so that publishing a new build
/// over the old one never touches the data. <c>StartupRetrySeconds</c> is how long the start waits
/// for an unreachable database (ADR 8).
/// </summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string Section = "Storage";

    /// <summary>The system-wide data directory (a systemd unit's <c>StateDirectory=vardbro</c>), used when it exists.</summary>
    public const string SystemDataDirectory = "/var/lib/vardbro";

    public string Provider { get; set; } = "sqlite";

    public string? DataDirectory { get; set; }

    [Range(0, 3600, ErrorMessage = "must be a whole number of seconds from 0 to 3600.")]
    public int StartupRetrySeconds { get; set; } = 60;

    /// <summary><c>ConnectionStrings:Vardbro</c>, copied here when the options are made.</summary>
    internal string? ConnectionString { get; set; }

    public bool IsPostgres => Provider.Equals("postgres", StringComparison.OrdinalIgnoreCase) || Provider.Equals("postgresql", StringComparison.OrdinalIgnoreCase);

    public bool IsSqlite => Provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Without <c>Storage:DataDirectory</c>: <c>/var/lib/vardbro</c> when that directory exists, else
    /// the user's own data directory (<c>$XDG_DATA_HOME/vardbro</c>, by default <c>~/.local/share/vardbro</c>;
    /// <c>%LOCALAPPDATA%\vardbro</c> on Windows). Null when the user has none (no home directory).
    /// </summary>
    public static string? DefaultDataDirectory()
    {
        if (Directory.Exists(SystemDataDirectory))
        {
            return SystemDataDirectory;
        }

        var user = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return string.IsNullOrEmpty(user) ? null : Path.Combine(user, "vardbro");
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsPostgres && !IsSqlite)
        {
            yield return new ValidationResult($"must be 'sqlite' or 'postgres', not '{Provider}'.", [nameof(Provider)]);
        }
        else if (IsPostgres)
        {
            string? problem = null;
            if (string.IsNullOrWhiteSpace(ConnectionString))
            {
                problem = "is postgres, but ConnectionStrings:Vardbro is not set.";
            }
            else
            {
                try
                {
                    _ = new NpgsqlConnectionStringBuilder(ConnectionString);
                }
                catch (ArgumentException ex)
                {
                    problem = $"is postgres, but ConnectionStrings:Vardbro is not a valid connection string ({ex.Message}).";
                }
            }

            if (problem is not null)
            {
                yield return new ValidationResult(problem, [nameof(Provider)]);
            }
        }
        else if (DataDirectory is null && DefaultDataDirectory() is null)
        {
            yield return new ValidationResult($"is not set, and there is neither {SystemDataDirectory} nor a home directory to keep the data in.", [nameof(DataDirectory)]);
        }
    }
}
