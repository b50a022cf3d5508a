// The benchmark's ceiling: Kestrel answering one stored patient JSON (fetched from Vardbro in the
// same run, so of the same size) from memory, at any GET path, driven by the same wrk scripts.
//
//   dotnet Vardbro.Bench.Baseline.dll --body patient.json --urls http://127.0.0.1:PORT
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var path = app.Configuration["body"] ?? throw new InvalidOperationException("--body <file> is required.");
var body = await File.ReadAllBytesAsync(path);
app.MapGet("/healthz", () => "ok");
app.MapGet("/{**any}", () => Results.Bytes(body, "application/json; charset=utf-8"));
await app.RunAsync();
