namespace ExpertFlow.Offloading;

/// <summary>Marks the point in the compute stream after which a slot is no longer read.</summary>
public interface IComputeFence
{
    bool IsComplete { get; }
}
