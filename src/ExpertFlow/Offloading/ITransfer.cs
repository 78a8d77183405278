namespace ExpertFlow.Offloading;

/// <summary>A copy in flight into a slot.</summary>
public interface ITransfer
{
    bool IsComplete { get; }
}
