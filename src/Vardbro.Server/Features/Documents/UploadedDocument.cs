using System.Security.Cryptography;
using System.Text;
using Vardbro.Connectors;

namespace Vardbro.Server.Features.Documents;

/// <summary>
/// The decoded bytes of an upload, written to a temporary file as they are decoded (deleted when this
/// is disposed, and by the system when the handle closes) and hashed on the way: a document of any
/// size costs the server a few buffers of memory, not its size. Also notes what the format check
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

        return new UploadedDocument(new FileStream(path, options));
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

    public override Stream OpenRead() =>
        new FileStream(file.Name, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, FileOptions.SequentialScan);

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
}
