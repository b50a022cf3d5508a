namespace Vardbro.Connectors;

/// <summary>
/// The bytes of a document on their way to a store: in memory, or in a file an upload was streamed
/// into, so that a large document need not be held in memory whole. Each <see cref="OpenRead"/> gives
/// a new seekable stream over all of them.
/// </summary>
public abstract class DocumentBytes
{
    /// <summary>The number of bytes.</summary>
    public abstract long Length { get; }

    /// <summary>A new seekable stream positioned at the first byte; the caller disposes it.</summary>
    public abstract Stream OpenRead();

    /// <summary>All the bytes in one array: for stores whose protocol takes them whole.</summary>
    public virtual async Task<byte[]> ToArrayAsync(CancellationToken cancellationToken)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)Length));
        await using var stream = OpenRead();
        await stream.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }

    public static DocumentBytes FromMemory(ReadOnlyMemory<byte> bytes) => new InMemory(bytes);

    public static implicit operator DocumentBytes(byte[] bytes) => FromMemory(bytes);

    private sealed class InMemory(ReadOnlyMemory<byte> bytes) : DocumentBytes
    {
        public override long Length => bytes.Length;

        public override Stream OpenRead() => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

        public override Task<byte[]> ToArrayAsync(CancellationToken cancellationToken) => Task.FromResult(bytes.ToArray());
    }
}
