using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Wwae.Evaluation;

/// <summary>
/// ImageNet ResNet-18 features (512-d global pool, node 'Pooling395_Output_0') from the ONNX files of the NuGet
/// package Microsoft.ML.DnnImageFeaturizer.ResNet18, run with ONNX Runtime on the CPU. Images are resized
/// bilinearly to 224 x 224, grey images repeated to RGB, scaled to 0..255 and passed through
/// ResNetPreprocess.onnx (per-channel mean subtraction) first, as ML.NET's featurizer does. The models take
/// one image per call (their batch dimension is fixed at 1).
/// </summary>
public sealed class ResNet18Features : IFeatureExtractor
{
    const int Side = 224;
    readonly InferenceSession preprocess;
    readonly InferenceSession network;

    /// <summary>Where the package puts the models in a build output: DnnImageModels/ next to the program.</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "DnnImageModels");

    /// <summary>Opens the two models from <paramref name="modelDirectory"/> (default: <see cref="DefaultDirectory"/>).</summary>
    public ResNet18Features(string? modelDirectory = null, int threads = 0)
    {
        string dir = modelDirectory ?? DefaultDirectory;
        string prep = Path.Combine(dir, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        string net = Path.Combine(dir, "ResNet18Onnx", "ResNet18.onnx");
        foreach (var f in new[] { prep, net })
            if (!File.Exists(f))
                throw new FileNotFoundException($"ResNet-18 features need '{f}'. It comes with the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 " +
                    "(copied to DnnImageModels/ of the build output); pass --resnet-dir to point elsewhere.", f);
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0) options.IntraOpNumThreads = threads;
        preprocess = new InferenceSession(prep, options);
        network = new InferenceSession(net, options);
    }

    /// <inheritdoc/>
    public string Name => "ResNet-18 (ImageNet, ONNX) global pool";
    /// <inheritdoc/>
    public int Dimension => 512;

    /// <inheritdoc/>
    public double[] Extract(ReadOnlySpan<float> images, int count, int channels, int size, IProgress<int>? progress = null)
    {
        int per = channels * size * size;
        var result = new double[(long)count * Dimension];
        var input = new DenseTensor<float>([1, 3, Side, Side]);
        for (int i = 0; i < count; i++)
        {
            Resize(images.Slice(i * per, per), channels, size, input.Buffer.Span);
            using var prepared = preprocess.Run([NamedOnnxValue.CreateFromTensor("OriginalInput", input)]);
            var preprocessed = prepared.First().AsTensor<float>();
            using var output = network.Run([NamedOnnxValue.CreateFromTensor("Input247", preprocessed)]);
            var features = output.First().AsTensor<float>();
            for (int j = 0; j < Dimension; j++) result[(long)i * Dimension + j] = features.GetValue(j);
            if ((i + 1) % 50 == 0 || i == count - 1) progress?.Report(i + 1);
        }
        return result;
    }

    static void Resize(ReadOnlySpan<float> image, int channels, int size, Span<float> destination)
    {
        using var scope = NewDisposeScope();
        var x = tensor(image.ToArray()).reshape(1, channels, size, size);
        if (channels == 1) x = x.expand(1, 3, size, size);
        var resized = nn.functional.interpolate(x, [Side, Side], mode: InterpolationMode.Bilinear, align_corners: false) * 255f;
        resized.clamp(0, 255).contiguous().data<float>().CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        preprocess.Dispose();
        network.Dispose();
    }
}
