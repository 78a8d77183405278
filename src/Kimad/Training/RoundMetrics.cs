using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kimad.Training;

/// <summary>One completed round as the server saw it.</summary>
public sealed record RoundMetrics
{
    [JsonPropertyName("round")] public long Round { get; init; }
    /// <summary>Training wall time in seconds since round 0 opened, evaluation time excluded.</summary>
    [JsonPropertyName("wall_s")] public double WallSeconds { get; init; }
    [JsonPropertyName("unix_ms")] public long UnixMs { get; init; }
    [JsonPropertyName("participants")] public int Participants { get; init; }
    [JsonPropertyName("alive")] public int Alive { get; init; }
    [JsonPropertyName("train_loss")] public double TrainLoss { get; init; }
    [JsonPropertyName("eval_loss")] public double? EvalLoss { get; init; }
    [JsonPropertyName("eval_accuracy")] public double? EvalAccuracy { get; init; }
    [JsonPropertyName("bytes_up")] public long BytesUp { get; init; }
    [JsonPropertyName("bytes_down")] public long BytesDown { get; init; }
    [JsonPropertyName("uplink_mbps_estimate")] public Dictionary<int, double> UplinkMbpsEstimate { get; init; } = [];
    [JsonPropertyName("downlink_mbps_estimate")] public Dictionary<int, double> DownlinkMbpsEstimate { get; init; } = [];
    [JsonPropertyName("uplink_ratios")] public Dictionary<int, float[]> UplinkRatios { get; init; } = [];
    [JsonPropertyName("downlink_ratios")] public Dictionary<int, double[]> DownlinkRatios { get; init; } = [];
    [JsonPropertyName("round_ms")] public double RoundMilliseconds { get; init; }
    /// <summary>Mean worker time for gradient + compression decision + encoding.</summary>
    [JsonPropertyName("worker_compute_ms")] public double WorkerComputeMilliseconds { get; init; }
}

/// <summary>Writes the metrics of a run as JSON and CSV.</summary>
public static class MetricsFiles
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Write(string directory, IReadOnlyList<RoundMetrics> rounds, object summary)
    {
        Directory.CreateDirectory(directory);
        Toolkit.Reporting.Files.WriteAllTextAtomically(Path.Combine(directory, "metrics.json"),
            JsonSerializer.Serialize(new { summary, rounds }, Json));
        var csv = new StringBuilder("round,wall_s,participants,alive,train_loss,eval_loss,eval_accuracy,bytes_up,bytes_down,mean_uplink_mbps_estimate,mean_uplink_ratio,round_ms,worker_compute_ms\n");
        foreach (var r in rounds)
            csv.AppendLine(string.Join(",", r.Round, F(r.WallSeconds), r.Participants, r.Alive, F(r.TrainLoss), F(r.EvalLoss), F(r.EvalAccuracy), r.BytesUp, r.BytesDown,
                F(r.UplinkMbpsEstimate.Count > 0 ? r.UplinkMbpsEstimate.Values.Average() : null),
                F(r.UplinkRatios.Count > 0 ? r.UplinkRatios.Values.SelectMany(v => v).Average() : null), F(r.RoundMilliseconds), F(r.WorkerComputeMilliseconds)));
        Toolkit.Reporting.Files.WriteAllTextAtomically(Path.Combine(directory, "metrics.csv"), csv.ToString());
    }

    public static List<RoundMetrics> Read(string directory)
    {
        string path = Path.Combine(directory, "metrics.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no metrics.json in '{directory}' (did the run finish?)", path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("rounds").Deserialize<List<RoundMetrics>>(Json) ?? [];
    }

    /// <summary>The method a run used (its summary's "method"), or the folder name for older files.</summary>
    public static string ReadMethod(string directory)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "metrics.json")));
        return doc.RootElement.TryGetProperty("summary", out var summary) && summary.TryGetProperty("method", out var m) && m.GetString() is { } name
            ? name : Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
    }

    static string F(double? v) => v is { } d && double.IsFinite(d) ? d.ToString("G6", CultureInfo.InvariantCulture) : "";
}
