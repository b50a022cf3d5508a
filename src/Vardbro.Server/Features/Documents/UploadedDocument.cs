using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using System.Text;
using Vardbro.Connectors;

namespace Vardbro.Server.Features.Documents;

/// <summary>
/// The decoded bytes of an upload, written to a temporary file as they are decoded and hashed on the
/// way: a document of any size costs the server a few buffers of memory, not its size. Outside
/// Windows the file's name is removed as soon as it is created and the bytes are read back through
/// the open handle, so nothing is left behind even by a killed process; on Windows the file goes when
/// the handle closes. Also notes what the format check
/// needs: the first bytes, and whether the whole is UTF-8 text without NUL.
/// </summary>
public sealed class UploadedDocument : DocumentBytes, IDisposable, IAsyncDisposable
{
    /// <summary>The first bytes kept for the format check (a PDF header may start up to 1,024 bytes in).</summary>
    public const int HeadBytes = 4096;

    private readonly FileStream file;
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Decoder utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetDecoder();
    private readonly byte[] head = new byte[HeadBytes];
    private readonly char[] scratch = new char[4096];
    private int headCount;
    private long length;
    private bool text = true;
    private string? sha256;

    private UploadedDocument(FileStream file) => this.file = file;

    /// <summary>A new empty file in the system's temporary directory, readable only by this user.</summary>
    public static UploadedDocument Create()
    {
        var path = Path.Combine(Path.GetTempPath(), "vardbro-upload-" + Guid.NewGuid().ToString("N"));
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read | FileShare.Delete,
            Options = FileOptions.DeleteOnClose,
            BufferSize = 0, // the parser writes blocks of 48 KiB itself
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var file = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.Delete(path);
        }

        return new UploadedDocument(file);
    }

    public override long Length => length;

    /// <summary>The lower-case hex SHA-256 of the bytes, once they are complete.</summary>
    public string Sha256 => sha256 ?? throw new InvalidOperationException("The upload is not complete.");

    /// <summary>Whether the bytes are of <paramref name="format"/> (one of <see cref="DocumentFormats.Allowed"/>, normalized), as <see cref="DocumentFormats.Matches"/> judges.</summary>
    public bool Matches(string format) =>
        format == DocumentFormats.PlainText
            ? length > 0 && text
            : DocumentFormats.Matches(format, head.AsSpan(0, headCount));

    /// <summary>Writes the next decoded bytes (synchronously: a local file, in the page cache).</summary>
    internal void Append(ReadOnlySpan<byte> bytes)
    {
        file.Write(bytes);
        hash.AppendData(bytes);
        length += bytes.Length;
        if (headCount < HeadBytes)
        {
            var n = Math.Min(HeadBytes - headCount, bytes.Length);
            bytes[..n].CopyTo(head.AsSpan(headCount));
            headCount += n;
        }

        if (text)
        {
            try
            {
                // Convert, not GetCharCount: only Convert keeps a character cut at the end for the next bytes.
                for (var rest = bytes; !rest.IsEmpty;)
                {
                    utf8.Convert(rest, scratch, flush: false, out var used, out _, out _); // throws at a byte that is not UTF-8
                    rest = rest[used..];
                }

                text = !bytes.Contains((byte)0);
            }
            catch (DecoderFallbackException)
            {
                text = false;
            }
        }
    }

    /// <summary>No more bytes: the digest is final.</summary>
    internal void Complete()
    {
        file.Flush();
        sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (text)
        {
            try
            {
                utf8.Convert([], scratch, flush: true, out _, out _, out _); // a sequence cut off at the end
            }
            catch (DecoderFallbackException)
            {
                text = false;
            }
        }
    }

    /// <summary>A stream of its own position over the file's handle (positional reads); valid until this is disposed.</summary>
    public override Stream OpenRead()
    {
        ObjectDisposedException.ThrowIf(file.SafeFileHandle.IsClosed, this);
        return new ReadStream(file.SafeFileHandle, length);
    }

    public void Dispose()
    {
        file.Dispose();
        hash.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class ReadStream(SafeFileHandle handle, long length) : Stream
    {
        private long position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => position;
            set => position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = RandomAccess.Read(handle, buffer[..Want(buffer.Length)], position);
            position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer[..Want(buffer.Length)], position, cancellationToken);
            position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Want(int room) => (int)Math.Clamp(length - position, 0, room);
    }
}
