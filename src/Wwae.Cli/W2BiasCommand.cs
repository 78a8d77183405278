using System.CommandLine;
using System.Text.Json;
using Toolkit.Reporting;
using Toolkit.Runtime;
using Wwae.Penalties;

namespace Wwae.Cli;

/// <summary><c>wwae w2-bias</c>: the WWAE penalty estimators on codes drawn from the prior (bias, spread, fitted scale) by batch and latent size.</summary>
static class W2BiasCommand
{
    public static Command Create()
    {
        var batches = new Option<string>("--batch-sizes") { Description = "Comma-separated batch sizes n.", DefaultValueFactory = _ => "50,100,200,500" };
        var latents = new Option<string>("--latents") { Description = "Comma-separated latent sizes d.", DefaultValueFactory = _ => "8,16,32,64" };
        var window = new Option<int>("--w2-window") { Description = "Batches pooled by the window estimator.", DefaultValueFactory = _ => 8 };
        var draws = new Option<int>("--draws") { Description = "Simulated batches per (n, d).", DefaultValueFactory = _ => 1000 };
        var seed = Toolkit.Cli.CommonOptions.Seed(1);
        var output = new Option<string>("--out") { Description = "JSON file (a markdown table is written beside it).", DefaultValueFactory = _ => Path.Combine(OutputPaths.Root, "w2-bias.json") };
        var command = new Command("w2-bias", "Simulate the WWAE penalty estimators for codes drawn from the prior: mean (the bias), standard deviation and fitted scale by batch and latent size.");
        foreach (var o in new Option[] { batches, latents, window, draws, seed, output }) command.Options.Add(o);
        command.SetAction(p =>
        {
            LibTorch.EnsureLoaded();
            string outPath = OutputPaths.EnsureParentOf(p.GetValue(output)!, "--out");
            var rows = W2EstimatorStudy.Run(Ints(p.GetValue(batches)!, "--batch-sizes"), Ints(p.GetValue(latents)!, "--latents"), p.GetValue(window), p.GetValue(draws), p.GetValue(seed),
                new Progress<string>(s => Console.Error.WriteLine($"simulated {s}")));
            if (rows.Count == 0) throw new ArgumentException("no (n, d) pair with n > d was given.");
            Files.WriteAllTextAtomically(outPath, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            var md = new MarkdownTable("d", "n", "estimator", "mean (true value 0)", "sd", "fitted scale (1 is right)", "d/n + d^2/(4n)");
            foreach (var r in rows) md.Add(r.D, r.N, r.Estimator, r.Mean, r.StandardDeviation, r.FittedScale, r.Approximation);
            Files.WriteAllTextAtomically(Path.ChangeExtension(outPath, ".md"), md.ToString());
            Console.Write(md.ToString());
            return 0;
        });
        return command;
    }

    static int[] Ints(string text, string option) => text.Split(',', StringSplitOptions.RemoveEmptyEntries)
        .Select(s => int.TryParse(s.Trim(), out int v) && v > 0 ? v : throw new ArgumentException($"{option}: '{s}' is not a positive whole number.")).ToArray();
}
