namespace Wwae.Penalties;

/// <summary>The codes (or their moments) hold NaN or infinite values: training has diverged before the penalty could be computed.</summary>
public sealed class NonFiniteCodesException(string message) : ArithmeticException(message);
