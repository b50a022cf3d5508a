using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// The key the audit chain is sealed with (HMAC-SHA256), kept outside the database so that whoever can
/// write the database cannot recompute the chain (ADR 10). From <c>Audit:Key</c>, else the file
/// <c>Audit:KeyFile</c> names, else <c>audit.key</c> in the data directory, made with a random key on
/// the first start. Resolved when the server starts; a problem is a configuration error.
/// </summary>
public sealed partial class AuditKey
{
    public const string DefaultFileName = "audit.key";

    public const string DefaultAnchorFileName = "audit-anchors.log";

    private static readonly byte[] CheckLabel = Encoding.ASCII.GetBytes("vardbro audit key check v1");

    private readonly byte[] key;
    private readonly ILogger<AuditKey>? logger;
    private readonly bool generated;
    private readonly bool besideData;
    private readonly bool onPostgres;

    public AuditKey(IOptions<AuditOptions> options, IOptions<StorageOptions> storage, IHostEnvironment environment, ILogger<AuditKey> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(environment);
        this.logger = logger;
        var audit = options.Value;
        var dataDirectory = storage.Value.DataDirectory ?? StorageOptions.DefaultDataDirectory();
        dataDirectory = dataDirectory is null ? null : Path.GetFullPath(dataDirectory, environment.ContentRootPath);
        if (audit.KeyBytes() is { } configured)
        {
            key = configured;
            Source = "Audit:Key";
        }
        else if (audit.KeyFile is { Length: > 0 } keyFile)
        {
            var path = Path.GetFullPath(keyFile, environment.ContentRootPath);
            key = Read(path, "Audit:KeyFile") ?? throw new InvalidOperationException(
                $"Audit:KeyFile '{path}' does not exist. Restore the key the audit trail was sealed with, or for a new trail create one (e.g. openssl rand -base64 32 > {path}).");
            Source = path;
        }
        else
        {
            if (dataDirectory is null)
            {
                throw new InvalidOperationException("Audit:Key and Audit:KeyFile are not set, and there is no data directory to keep a generated audit key in (Storage:DataDirectory).");
            }

            var path = Path.Combine(dataDirectory, DefaultFileName);
            key = Read(path, "The audit key file") ?? Generate(path, out generated);
            Source = path;
            besideData = true;
            onPostgres = storage.Value.IsPostgres;
        }

        // Beside the key file by default; with Audit:Key, in the data directory.
        var anchorDirectory = Source == "Audit:Key" ? dataDirectory ?? environment.ContentRootPath : Path.GetDirectoryName(Source)!;
        AnchorFile = audit.AnchorFile is { Length: > 0 } anchors
            ? Path.GetFullPath(anchors, environment.ContentRootPath)
            : Path.Combine(anchorDirectory, DefaultAnchorFileName);
        Check = Convert.ToHexStringLower(HMACSHA256.HashData(key, CheckLabel));
    }

    /// <summary>For tests and tools: a key given as bytes.</summary>
    public AuditKey(byte[] key, string anchorFile)
    {
        ArgumentNullException.ThrowIfNull(key);
        this.key = key;
        Source = "bytes";
        AnchorFile = anchorFile;
        Check = Convert.ToHexStringLower(HMACSHA256.HashData(key, CheckLabel));
    }

    /// <summary>
    /// Logs, once the start goes on, that a key was generated and that a key beside the data must be
    /// moved: it protects the chain from someone who can write the database only (PostgreSQL, a
    /// stolen connection string), not from whoever can read the data directory.
    /// </summary>
    public void LogWhereItIs()
    {
        if (logger is null || !besideData)
        {
            return;
        }

        if (generated)
        {
            LogGenerated(logger, Source);
        }

        LogKeyBesideData(logger, Source, onPostgres ? " Several instances sharing one PostgreSQL database must all have the same key: set Audit:Key or Audit:KeyFile on each." : "");
    }

    /// <summary>Where the key came from: <c>Audit:Key</c> or the key file's path (never the key itself).</summary>
    public string Source { get; }

    /// <summary>The append-only file the chain's head is anchored in (<see cref="AuditAnchors"/>).</summary>
    public string AnchorFile { get; }

    /// <summary>
    /// HMAC of a fixed label: stored with the chain (<c>audit_seal</c> row 2), it tells whether a chain
    /// was sealed with this key without revealing the key.
    /// </summary>
    public string Check { get; }

    /// <summary>HMAC-SHA256 of <paramref name="data"/> into <paramref name="destination"/> (32 bytes).</summary>
    public void Mac(ReadOnlySpan<byte> data, Span<byte> destination) => HMACSHA256.HashData(key, data, destination);

    public string MacHex(string text) => Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));

    private static byte[]? Read(string path, string name)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{name} '{path}' cannot be read: {ex.Message}", ex);
        }

        return Settings.KeyFromBase64(text) ?? throw new InvalidOperationException($"{name} '{path}' must hold base64 of at least 32 bytes (e.g. openssl rand -base64 32).");
    }

    private static byte[] Generate(string path, out bool generated)
    {
        var bytes = RandomNumberGenerator.GetBytes(32);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var file = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(path, file))
            {
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(bytes) + "\n"));
                stream.Flush(flushToDisk: true);
            }

            generated = true;
            return bytes;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process made it first (instances starting together): use that one, once written.
            generated = false;
            for (var attempt = 0; ; attempt++)
            {
                Thread.Sleep(100);
                try
                {
                    return Read(path, "The audit key file")!;
                }
                catch (InvalidOperationException) when (attempt < 20)
                {
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"The audit key file '{path}' cannot be created ({ex.Message}); set Audit:Key or Audit:KeyFile.", ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generated a new audit chain key in {Path}: back it up; without it the audit trail cannot be verified")]
    private static partial void LogGenerated(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The audit chain key is in {Path}, beside the data: move it out of the data directory and back it up apart from the database (Audit:KeyFile or Audit:Key), so that whoever can change the data cannot reseal the audit trail.{Shared}")]
    private static partial void LogKeyBesideData(ILogger logger, string path, string shared);
}
