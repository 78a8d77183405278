global using Xunit;

// TorchSharp's random generator is process-wide: tests that seed it (predictor training, the demo model, random
// weights) must not interleave, or their results depend on which other test drew numbers in between.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
