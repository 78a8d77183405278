using Toolkit.Runtime;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;

namespace ExpertFlow.Evaluation;

/// <summary>One configuration of a sweep.</summary>
/// <param name="Policy">Offloading policy, or null for the runtime's all-resident provider (no budget).</param>
/// <param name="MemoryBytes">The memory budget, or null (resident).</param>
/// <param name="Batch">Sequences decoded together.</param>
/// <param name="Note">Shown in the report (e.g. a repeat run).</param>
/// <param name="Format">How the experts are stored (null: unquantized).</param>
public sealed record BenchCase(PolicySpec? Policy, long? MemoryBytes, int Batch, string Note = "", ExpertFormat? Format = null)
{
    /// <summary>The expert format (unquantized when none was given).</summary>
    public ExpertFormat Experts => Format ?? ExpertFormat.Unquantized;
    /// <summary>The policy as reports name it ("resident" for the all-resident provider).</summary>
    public string PolicyName => Policy?.ToString() ?? "resident";
    public string Label => (MemoryBytes is long m ? $"{PolicyName} @ {MemorySize.Format(m)}, batch {Batch}" : $"{PolicyName}, batch {Batch}") + $", experts {Experts.Name}";
}
