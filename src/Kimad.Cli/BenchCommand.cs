using System.CommandLine;
using System.Diagnostics;
using Kimad.Allocation;
using Kimad.Compression;
using Spectre.Console;

namespace Kimad.Cli;

/// <summary><c>kimad bench</c>: allocator solve time (60 layers x 16 levels, D = 1000) and CPU compressor throughput.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var layers = new Option<int>("--layers") { Description = "Layers in the allocator instance.", DefaultValueFactory = _ => 60 };
        var d = new Option<int>("--discretization") { Description = "Budget steps D.", DefaultValueFactory = _ => 1000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions.", DefaultValueFactory = _ => 200 };
        var command = new Command("bench", "Measure the Kimad+ allocator and the CPU compressors locally.") { layers, d, repeats };
        command.SetAction(parse =>
        {
            int l = parse.GetValue(layers), steps = parse.GetValue(d), n = parse.GetValue(repeats);
            var random = new Random(1);
            var problem = new KnapsackProblem(4_000_000, steps, Enumerable.Range(0, l).Select(i =>
            {
                int size = random.Next(1_000, 500_000);
                return new KnapsackLayer($"layer{i}", CompressionLevels.Default.Select(r => new KnapsackOption(CompressionLevels.Bytes(r, size), random.NextDouble() * (1 - r) * size)).ToArray());
            }).ToArray());
            var solver = new MultipleChoiceKnapsack();
            for (int i = 0; i < 5; i++) solver.Solve(problem);   // warm-up (JIT)
            var times = new double[n];
            for (int i = 0; i < n; i++) { var sw = Stopwatch.StartNew(); solver.Solve(problem); times[i] = sw.Elapsed.TotalMilliseconds; }
            Array.Sort(times);
            var table = new Table().AddColumn("measurement").AddColumn("result");
            table.AddRow($"allocator {l} layers x {CompressionLevels.Default.Length} levels, D = {steps}", $"median {times[n / 2]:F2} ms, p95 {times[(int)(n * 0.95)]:F2} ms, max {times[^1]:F2} ms ({n} solves)");

            var v = Enumerable.Range(0, 1 << 20).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            foreach (var spec in new[] { "identity", "topk:0.01", "topk:0.1", "randk:0.01", "sign", "qsgd:16", "natural", "fp16", "bf16" })
            {
                var c = Compressors.Parse(spec);
                var buffer = new byte[c.WireBytes(v.Length)];
                c.Encode(v, buffer, random);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var sw = Stopwatch.StartNew();
                int reps = 10;
                for (int i = 0; i < reps; i++) c.Encode(v, buffer, random);
                double ms = sw.Elapsed.TotalMilliseconds / reps;
                long allocated = (GC.GetAllocatedBytesForCurrentThread() - before) / reps;
                table.AddRow($"encode {spec}, 2^20 floats", $"{ms:F2} ms ({v.Length * 4 / ms / 1e6:F2} GB/s), {buffer.Length:N0} bytes, {allocated} B allocated per call");
            }
            var errors = new double[CompressionLevels.Default.Length];
            var s2 = Stopwatch.StartNew();
            CompressionLevels.Errors(v, CompressionLevels.Default, errors);
            table.AddRow("error profile (16 levels), 2^20 floats", $"{s2.Elapsed.TotalMilliseconds:F1} ms");
            // One Kimad+ decision per round for the Fashion-MNIST CNN's 8 tensors: error profiles + knapsack.
            int[] cnn = [200, 8, 3200, 16, 16384, 64, 640, 10];
            var vectors = cnn.Select(k => Enumerable.Range(0, k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
            int[] rows = [8, 1, 16, 1, 64, 1, 10, 1];
            foreach (var set in new[] { "topk", "mixed" })
            {
                var plus = new KimadPlusMethod(new LevelSet(set, rows), steps);
                for (int i = 0; i < 5; i++) plus.Choose(vectors, 40_000);
                var s3 = Stopwatch.StartNew();
                for (int i = 0; i < 50; i++) plus.Choose(vectors, 40_000);
                table.AddRow($"kimad+ decision, CNN (20.5k parameters, 8 tensors), levels {set}", $"{s3.Elapsed.TotalMilliseconds / 50:F2} ms");
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
