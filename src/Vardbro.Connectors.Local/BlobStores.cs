using System.Buffers;
using System.Data;
using System.Data.Common;
using System.Runtime.InteropServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>Content-addressed document bytes (key: the lower-case hex SHA-256).</summary>
public interface IBlobStore
{
    /// <summary>
    /// Makes the bytes durable before the caller commits metadata that names them: a file store has
    /// them on disk when this returns; a database store adds them to <paramref name="db"/>'s unit of
    /// work, so they commit with the metadata.
    /// </summary>
    Task PutAsync(DbContext db, string sha256, DocumentBytes bytes, CancellationToken cancellationToken);

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

    public async Task PutAsync(DbContext db, string sha256, DocumentBytes bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bytes);
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
            await using (var source = bytes.OpenRead())
            {
                await source.CopyToAsync(file, 81920, cancellationToken);
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

/// <summary>
/// Bytes in the database's own table, committed in the same transaction as the metadata. Neither way
/// holds a whole document in memory: the bytes go in as a stream parameter (the provider sends it in
/// pieces) and come out in ranges of <see cref="ChunkBytes"/>.
/// </summary>
public sealed class DatabaseBlobStore : IBlobStore
{
    /// <summary>The bytes one query of a download reads (<c>substr</c> of the column).</summary>
    public const int ChunkBytes = 512 * 1024;

    public async Task PutAsync(DbContext db, string sha256, DocumentBytes bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(bytes);
        if (await db.Set<BlobRow>().AnyAsync(b => b.Sha256 == sha256, cancellationToken))
        {
            return;
        }

        // Not through the change tracker: an entity holds its bytes as one array.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
            command.CommandText = """INSERT INTO local_blobs ("Sha256", "Bytes") VALUES (@sha256, @bytes)""";
            await using var content = bytes.OpenRead();
            Add(command, "@sha256", DbType.String, sha256);
            Add(command, "@bytes", DbType.Binary, content);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    public async Task<Stream?> OpenAsync(DbContext db, string sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await db.Database.OpenConnectionAsync(cancellationToken);
        var opened = false;
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
            command.CommandText = """SELECT length("Bytes") FROM local_blobs WHERE "Sha256" = @sha256""";
            Add(command, "@sha256", DbType.String, sha256);
            if (await command.ExecuteScalarAsync(cancellationToken) is not { } length || length is DBNull)
            {
                return null;
            }

            opened = true;
            return new ChunkedBlobStream(db, sha256, Convert.ToInt64(length, System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            if (!opened)
            {
                await db.Database.CloseConnectionAsync();
            }
        }
    }

    private static void Add(DbCommand command, string name, DbType type, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <summary>
    /// A blob read a range at a time on the context's connection (held open until disposed), one query
    /// per <see cref="ChunkBytes"/> into one pooled buffer: memory stays the same whatever the size.
    /// Blobs never change under their digest, so the ranges need no common transaction.
    /// </summary>
    private sealed class ChunkedBlobStream(DbContext db, string sha256, long length) : Stream
    {
        private byte[]? buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        private long bufferStart;
        private int bufferCount;
        private long position;

        public override bool CanRead => buffer is not null;
        public override bool CanSeek => buffer is not null;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => position;
            set => position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(buffer is null, this);
            if (position >= length || destination.IsEmpty)
            {
                return 0;
            }

            if (position < bufferStart || position >= bufferStart + bufferCount)
            {
                await FillAsync(cancellationToken);
            }

            var offset = (int)(position - bufferStart);
            var count = Math.Min(destination.Length, bufferCount - offset);
            buffer.AsMemory(offset, count).CopyTo(destination);
            position += count;
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            var want = (int)Math.Min(ChunkBytes, length - position);
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
            command.CommandText = """SELECT substr("Bytes", @from, @count) FROM local_blobs WHERE "Sha256" = @sha256""";
            Add(command, "@from", DbType.Int32, checked((int)(position + 1))); // 1-based, in both PostgreSQL and SQLite
            Add(command, "@count", DbType.Int32, want);
            Add(command, "@sha256", DbType.String, sha256);
            await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new IOException($"The blob {sha256} disappeared while it was read.");
            }

            await using var column = reader.GetStream(0);
            var read = 0;
            while (read < want)
            {
                var n = await column.ReadAsync(buffer.AsMemory(read, want - read), cancellationToken);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            if (read != want)
            {
                throw new IOException($"The blob {sha256} is shorter than it was when it was opened.");
            }

            bufferStart = position;
            bufferCount = read;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && buffer is { } rented)
            {
                buffer = null;
                ArrayPool<byte>.Shared.Return(rented);
                db.Database.CloseConnection();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (buffer is { } rented)
            {
                buffer = null;
                ArrayPool<byte>.Shared.Return(rented);
                await db.Database.CloseConnectionAsync();
            }

            await base.DisposeAsync();
        }
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
