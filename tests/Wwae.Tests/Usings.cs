global using Xunit;
global using static TorchSharp.torch;

// TorchSharp's random generator is process-wide: tests that seed it and train must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
