namespace ExpertFlow.Model;

/// <summary>
/// Optional capability of a provider that can have some experts computed on the host CPU, from host memory, instead of
/// moving them to the compute device. Per MoE layer, when <see cref="ComputesOnHost"/>, the runtime calls <see cref="PlanHost"/> before
/// <see cref="IExpertProvider.OnRouted"/>, computes the returned experts first on the CPU with
/// <see cref="HostWeights"/> (while the others' copies run), reports each with <see cref="HostDone"/>, and moves their
/// outputs to the compute device; the provider's <see cref="IExpertProvider.Get"/> is not called for them.
/// </summary>
public interface IHostComputeProvider
{
    /// <summary>False: the runtime skips host planning altogether (no <see cref="PlanHost"/> calls).</summary>
    bool ComputesOnHost { get; }
    /// <summary>Which of the layer's <paramref name="experts"/> (with <paramref name="tokens"/> tokens each) to compute on the host.</summary>
    IReadOnlyList<int> PlanHost(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> tokens);
    /// <summary>CPU tensors of a host expert, in the layout of <see cref="ExpertWeights"/>; the caller disposes them.</summary>
    ExpertWeights HostWeights(int layer, int expert);
    /// <summary>A host expert with <paramref name="tokens"/> tokens took <paramref name="seconds"/> of host compute.</summary>
    void HostDone(int layer, int expert, int tokens, double seconds);
}
