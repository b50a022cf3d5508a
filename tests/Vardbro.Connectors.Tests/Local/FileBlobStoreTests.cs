using System.Security.Cryptography;
using Vardbro.Connectors.Local;

namespace Vardbro.Connectors.Tests.Local;

public sealed class FileBlobStoreTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("vardbro-blobs-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static (string Sha, byte[] Bytes) Blob(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        return (Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes);
    }

    private string PathOf(string sha) => Path.Combine(directory, sha[..2], sha[2..4], sha);

    [Fact]
    public async Task A_stored_blob_of_the_right_size_but_wrong_bytes_is_repaired_by_the_next_write_of_those_bytes()
    {
        var store = new FileBlobStore(directory);
        var (sha, bytes) = Blob(1);
        await store.PutAsync(null!, sha, bytes, CancellationToken.None);
        var corrupt = (byte[])bytes.Clone();
        corrupt[100] ^= 0xFF;
        await File.WriteAllBytesAsync(PathOf(sha), corrupt);

        await store.PutAsync(null!, sha, bytes, CancellationToken.None);

        Assert.Equal(bytes, await File.ReadAllBytesAsync(PathOf(sha)));
    }

    [Fact]
    public async Task An_intact_blob_is_not_written_again()
    {
        var store = new FileBlobStore(directory);
        var (sha, bytes) = Blob(2);
        await store.PutAsync(null!, sha, bytes, CancellationToken.None);
        var written = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(PathOf(sha), written);

        await store.PutAsync(null!, sha, bytes, CancellationToken.None);

        Assert.Equal(written, File.GetLastWriteTimeUtc(PathOf(sha)));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(PathOf(sha)));
    }

    [Fact]
    public void Flushing_a_directory_asks_the_operating_system_and_reports_its_refusal()
    {
        DirectorySync.Flush(directory);
        Assert.Throws<IOException>(() => DirectorySync.Flush(Path.Combine(directory, "absent")));
    }
}
