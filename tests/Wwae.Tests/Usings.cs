global using Xunit;
global using static TorchSharp.torch;
