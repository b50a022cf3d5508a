using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// SHA-256 over the method, the path with query and the body bytes: what makes two requests with one
/// <c>Idempotency-Key</c> "the same request". The body is streamed through the hash, never held whole.
/// </summary>
public static class RequestFingerprint
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>Hashes the request and rewinds its (buffered) body for the endpoint.</summary>
    public static async Task<string> OfAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.EnableBuffering();
        using var hash = Begin(request.Method, request.Path.Value + request.QueryString.Value);
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk.AsMemory(0, ChunkSize), cancellationToken)) > 0)
            {
                hash.AppendData(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        request.Body.Position = 0;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The same fingerprint for a request held in memory (tests, tools).</summary>
    public static string Of(string method, string pathAndQuery, ReadOnlySpan<byte> body)
    {
        using var hash = Begin(method, pathAndQuery);
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static IncrementalHash Begin(string method, string pathAndQuery)
    {
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(method.ToUpperInvariant()));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(pathAndQuery));
        hash.AppendData([0]);
        return hash;
    }
}
