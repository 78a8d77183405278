namespace ExpertFlow.Model;

/// <summary>
/// Optional capability of a provider that wants a guess of the next MoE layer's experts before the current layer's
/// experts run: the next layer's router (after its own norm) applied to the current layer's input. The runtime computes
/// it on the device next to the current router and brings it to the host in the same round trip, then calls
/// <see cref="Anticipate"/> right after <see cref="IExpertProvider.OnRouted"/> of the current layer.
/// </summary>
public interface IAnticipatingProvider
{
    /// <summary>Experts per token to guess (0: none; the runtime then skips the guess).</summary>
    int AnticipatedExperts { get; }
    /// <summary>The guess for MoE layer <paramref name="layer"/>: <paramref name="perToken"/> holds <paramref name="k"/> expert ids per token, most likely first.</summary>
    void Anticipate(int layer, long[] perToken, int k);
}
