namespace Wwae.Data;

/// <summary>The three parts of a data set: training, validation (for choosing lambda) and test (for reporting).</summary>
public enum DatasetSplit
{
    /// <summary>Training images.</summary>
    Train,
    /// <summary>
    /// Held-out images for model selection: MNIST-style sets use the last 10,000 training images (train with
    /// <c>--limit 50000</c> to keep them out of training); CelebA its partition 1; folders the files hashed there.
    /// </summary>
    Validation,
    /// <summary>The test split, for reporting chosen models only.</summary>
    Test,
}
