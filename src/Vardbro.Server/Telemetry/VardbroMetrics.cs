using System.Diagnostics.Metrics;
using Vardbro.Connectors;

namespace Vardbro.Server.Telemetry;

/// <summary>
/// The server's own measurements under meter <c>Vardbro</c>: bookings won and lost, and the
/// notification outbox's backlog. (The audit writer measures its queue and commits itself; connector
/// calls are measured by <see cref="Vardbro.Connectors.ConnectorTelemetry"/>.) Tags name the EMR,
/// never a patient.
/// </summary>
public sealed class VardbroMetrics
{
    public const string MeterName = "Vardbro";

    /// <summary>Bucket bounds for durations in seconds, as ASP.NET Core's own request-duration histogram has them.</summary>
    public static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    private readonly Counter<long> bookings;

    public VardbroMetrics(IMeterFactory meters, OutboxBacklog backlog)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(backlog);
        var meter = meters.Create(MeterName);
        bookings = meter.CreateCounter<long>("vardbro.bookings", "{booking}", "Booking attempts that reached the EHR: won (booked) or lost (the slot was taken first).");
        meter.CreateObservableGauge("vardbro.outbox.backlog", backlog.Observe, "{message}", "Notifications waiting in the outbox to be sent.");
    }

    /// <summary>Runs a booking, counting it won when it returns and lost when the EHR refuses it as taken.</summary>
    public async Task<T> BookingAsync<T>(string emr, Func<Task<T>> book)
    {
        ArgumentNullException.ThrowIfNull(book);
        try
        {
            var booked = await book();
            bookings.Add(1, new KeyValuePair<string, object?>("vardbro.emr", emr), new KeyValuePair<string, object?>("vardbro.outcome", "won"));
            return booked;
        }
        catch (ConflictException)
        {
            bookings.Add(1, new KeyValuePair<string, object?>("vardbro.emr", emr), new KeyValuePair<string, object?>("vardbro.outcome", "lost"));
            throw;
        }
    }
}
