using System.Runtime.InteropServices;
using Microsoft.EntityFrameworkCore;

namespace Vardbro.Connectors.Local;

/// <summary>Content-addressed document bytes (key: the lower-case hex SHA-256).</summary>
public interface IBlobStore
{
    /// <summary>
    /// Makes the bytes durable before the caller commits metadata that names them: a file store has
    /// them on disk when this returns; a database store adds them to <paramref name="db"/>'s unit of
    /// work, so they commit with the metadata.
    /// </summary>
    Task PutAsync(DbContext db, string sha256, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    Task<Stream?> OpenAsync(DbContext db, string sha256, CancellationToken cancellationToken);
}

/// <summary>
/// Files under a directory: written to a temporary file, flushed to the disk and renamed into place,
/// so a file under its final name is always whole; then the directories that changed are flushed, so
/// that a power cut cannot lose the rename while the metadata commit that follows survives.
/// </summary>
public sealed class FileBlobStore : IBlobStore
{
    private readonly string directory;

    /// <summary>Also removes temporary files a killed process left behind (older than ten minutes).</summary>
    public FileBlobStore(string directory, TimeProvider? time = null)
    {
        this.directory = directory;
        var temporary = new DirectoryInfo(Path.Combine(directory, "tmp"));
        if (temporary.Exists)
        {
            var cutoff = (time ?? TimeProvider.System).GetUtcNow().UtcDateTime.AddMinutes(-10);
            foreach (var file in temporary.EnumerateFiles().Where(f => f.LastWriteTimeUtc < cutoff))
            {
                file.Delete();
            }
        }
    }

    public async Task PutAsync(DbContext db, string sha256, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var path = PathOf(sha256);
        if (File.Exists(path) && new FileInfo(path).Length == bytes.Length && await HoldsAsync(path, sha256, cancellationToken))
        {
            return;
        }

        // A file of that name with other bytes (a disk error, a hand edit) is replaced by the right ones.
        var inner = Path.GetDirectoryName(path)!;
        var outer = Path.GetDirectoryName(inner)!;
        var newDirectories = !Directory.Exists(inner);
        Directory.CreateDirectory(inner);
        var temporary = Path.Combine(Directory.CreateDirectory(Path.Combine(directory, "tmp")).FullName, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await file.WriteAsync(bytes, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            DirectorySync.Flush(inner);
            if (newDirectories)
            {
                DirectorySync.Flush(outer);
                DirectorySync.Flush(directory);
            }
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static async Task<bool> HoldsAsync(string path, string sha256, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var hash = await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken);
        return Convert.ToHexStringLower(hash) == sha256;
    }

    public Task<Stream?> OpenAsync(DbContext db, string sha256, CancellationToken cancellationToken)
    {
        var path = PathOf(sha256);
        Stream? stream = File.Exists(path)
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan)
            : null;
        return Task.FromResult(stream);
    }

    private string PathOf(string sha256)
    {
        if (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException("Not a SHA-256 hex digest.", nameof(sha256));
        }

        return Path.Combine(directory, sha256[..2], sha256[2..4], sha256);
    }
}

/// <summary>Bytes in the database's own table, committed in the same transaction as the metadata.</summary>
public sealed class DatabaseBlobStore : IBlobStore
{
    public async Task PutAsync(DbContext db, string sha256, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (!await db.Set<BlobRow>().AnyAsync(b => b.Sha256 == sha256, cancellationToken))
        {
            // A document is up to tens of megabytes: use the caller's array as it is where it can.
            var array = MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array
                : bytes.ToArray();
            db.Add(new BlobRow { Sha256 = sha256, Bytes = array });
        }
    }

    public async Task<Stream?> OpenAsync(DbContext db, string sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var bytes = await db.Set<BlobRow>().AsNoTracking().Where(b => b.Sha256 == sha256).Select(b => b.Bytes).FirstOrDefaultAsync(cancellationToken);
        return bytes is null ? null : new MemoryStream(bytes, writable: false);
    }
}

/// <summary>
/// Flushes a directory's entries (a rename, a new file) to the disk: <c>fsync</c> on the directory,
/// which .NET has no API for. Windows commits directory entries with its file system journal, so
/// there it does nothing.
/// </summary>
internal static partial class DirectorySync
{
    public static void Flush(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Open(path, 0); // O_RDONLY: enough to fsync a directory
        if (fd < 0)
        {
            throw new IOException($"Opening directory {path} to flush it failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Flushing directory {path} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
