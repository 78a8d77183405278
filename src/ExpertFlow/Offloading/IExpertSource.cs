namespace ExpertFlow.Offloading;

/// <summary>Where the bytes of an expert come from (a checkpoint, tensors in memory, a generator).</summary>
public interface IExpertSource
{
    ExpertLayout Layout { get; }

    /// <summary>
    /// Writes the expert's parts, in <see cref="ExpertLayout.DType"/> and in layout order, into
    /// <paramref name="destination"/> (exactly <see cref="ExpertLayout.BytesPerExpert"/> bytes).
    /// Must be safe to call from several threads for different experts.
    /// </summary>
    void Read(ExpertKey key, Span<byte> destination);
}
