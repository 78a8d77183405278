using System.CommandLine;
using System.Text.Json;
using Kimad.Allocation;

namespace Kimad.Cli;

/// <summary><c>kimad allocate --input problem.json</c>: solves one Kimad+ knapsack instance.</summary>
internal static class AllocateCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "Problem JSON: {\"budget_bytes\": B, \"discretization\": D, \"layers\": [{\"name\": ..., \"options\": [{\"bytes\": s, \"error\": e}]}]}", Required = true };
        var command = new Command("allocate", "Choose one compression level per layer: minimum total error within the byte budget (exact DP over D budget steps). Prints JSON.") { input };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(input)!;
            if (!file.Exists) throw new FileNotFoundException($"problem file '{file.FullName}' not found", file.FullName);
            KnapsackProblem? problem;
            try { problem = JsonSerializer.Deserialize<KnapsackProblem>(File.ReadAllText(file.FullName)); }
            catch (JsonException e) { throw new InvalidDataException($"'{file.FullName}' is not a valid problem: {e.Message}"); }
            if (problem is null) throw new InvalidDataException($"'{file.FullName}' is empty");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var solution = new MultipleChoiceKnapsack().Solve(problem);
            clock.Stop();
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                choices = solution.Choices,
                total_bytes = solution.TotalBytes,
                total_error = solution.TotalError,
                feasible = solution.Feasible,
                budget_bytes = problem.BudgetBytes,
                solve_ms = clock.Elapsed.TotalMilliseconds,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return solution.Feasible ? 0 : 1;
        });
        return command;
    }
}
