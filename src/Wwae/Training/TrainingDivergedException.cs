namespace Wwae.Training;

/// <summary>
/// The loss or the latent codes became NaN or infinite. It derives from <see cref="ArgumentException"/> because the
/// remedy lies in the options (learning rate, penalty weight), which its message names.
/// </summary>
public sealed class TrainingDivergedException(string message, Exception? inner = null) : ArgumentException(message, inner);
