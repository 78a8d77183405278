using TorchSharp;
using TorchSharp.Modules;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Wwae.Evaluation;

/// <summary>
/// Inception-v3 up to pool3 (2048-d) exactly as pytorch-fid builds it for FID (its FIDInceptionA/C/E_1/E_2
/// blocks: average pools that exclude padding, a max pool in the last block), with torchvision's parameter
/// names, so pytorch-fid's pt_inception-2015-12-05 state dict loads unchanged once saved as safetensors
/// (bench/wwae/convert_inception.py). Input: images in [0, 1], resized bilinearly to 299 x 299 and scaled to [-1, 1].
/// </summary>
public sealed class InceptionV3 : Module<Tensor, Tensor>
{
    readonly Module<Tensor, Tensor>[] stages;

    public InceptionV3() : base("InceptionV3")
    {
        var c1a = Basic(3, 32, 3, stride: 2);
        var c2a = Basic(32, 32, 3);
        var c2b = Basic(32, 64, 3, padding: 1);
        var c3b = Basic(64, 80, 1);
        var c4a = Basic(80, 192, 3);
        var m5b = new BlockA(192, 32);
        var m5c = new BlockA(256, 64);
        var m5d = new BlockA(288, 64);
        var m6a = new BlockB(288);
        var m6b = new BlockC(768, 128);
        var m6c = new BlockC(768, 160);
        var m6d = new BlockC(768, 160);
        var m6e = new BlockC(768, 192);
        var m7a = new BlockD(768);
        var m7b = new BlockE(1280, maxPool: false);
        var m7c = new BlockE(2048, maxPool: true);
        register_module("Conv2d_1a_3x3", c1a); register_module("Conv2d_2a_3x3", c2a); register_module("Conv2d_2b_3x3", c2b);
        register_module("Conv2d_3b_1x1", c3b); register_module("Conv2d_4a_3x3", c4a);
        register_module("Mixed_5b", m5b); register_module("Mixed_5c", m5c); register_module("Mixed_5d", m5d); register_module("Mixed_6a", m6a);
        register_module("Mixed_6b", m6b); register_module("Mixed_6c", m6c); register_module("Mixed_6d", m6d); register_module("Mixed_6e", m6e);
        register_module("Mixed_7a", m7a); register_module("Mixed_7b", m7b); register_module("Mixed_7c", m7c);
        stages = [c1a, c2a, c2b, MaxPool2d(3, 2), c3b, c4a, MaxPool2d(3, 2), m5b, m5c, m5d, m6a, m6b, m6c, m6d, m6e, m7a, m7b, m7c];
    }

    /// <summary>Pool3 features (N x 2048) of images in [0, 1] (N x 3 x H x W).</summary>
    public override Tensor forward(Tensor x)
    {
        x = functional.interpolate(x, [299, 299], mode: InterpolationMode.Bilinear, align_corners: false);
        x = 2 * x - 1;
        foreach (var s in stages) x = s.forward(x);
        return functional.adaptive_avg_pool2d(x, [1, 1]).flatten(1);
    }

    /// <summary>Loads weights (float32 safetensors, torchvision names); reports missing or misshapen tensors by name. fc.* is ignored.</summary>
    public void LoadSafetensors(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Inception weights '{path}' do not exist; convert pytorch-fid's weights with bench/wwae/convert_inception.py.", path);
        using var file = SafetensorsFile.Open(path);
        using var _ = no_grad();
        foreach (var (name, target) in state_dict())
        {
            if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) continue;
            if (!file.Contains(name)) throw new InvalidDataException($"Inception weights '{path}' lack tensor '{name}'; is it pytorch-fid's FID Inception-v3 state dict?");
            using var source = file.Load(name, dtype: ScalarType.Float32);
            if (!source.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"Inception weights '{path}': tensor '{name}' has shape [{string.Join(", ", source.shape)}], expected [{string.Join(", ", target.shape)}].");
            if (!source.isfinite().all().item<bool>())
                throw new InvalidDataException($"Inception weights '{path}': tensor '{name}' holds NaN or infinite values; the file is damaged, convert the weights again.");
            target.copy_(source);
        }
    }

    static BasicConv Basic(int input, int output, int kernel, int stride = 1, int padding = 0) =>
        new(input, output, (kernel, kernel), (stride, stride), (padding, padding));

    static BasicConv Basic(int input, int output, (long, long) kernel, (long, long) padding) => new(input, output, kernel, (1, 1), padding);

    /// <summary>Conv (no bias) + batch norm (eps 0.001) + ReLU, named conv/bn as torchvision.</summary>
    sealed class BasicConv : Module<Tensor, Tensor>
    {
        readonly Conv2d conv;
        readonly BatchNorm2d bn;

        public BasicConv(int input, int output, (long, long) kernel, (long, long) stride, (long, long) padding) : base("BasicConv2d")
        {
            conv = Conv2d(input, output, kernel, stride: stride, padding: padding, bias: false);
            bn = BatchNorm2d(output, eps: 0.001);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => functional.relu(bn.forward(conv.forward(x)));
    }

    static Tensor AvgPoolExcludingPad(Tensor x) => functional.avg_pool2d(x, 3, stride: 1, padding: 1, count_include_pad: false);

    sealed class BlockA : Module<Tensor, Tensor>
    {
        readonly BasicConv branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool;

        public BlockA(int input, int poolFeatures) : base("FIDInceptionA")
        {
            branch1x1 = Basic(input, 64, 1);
            branch5x5_1 = Basic(input, 48, 1);
            branch5x5_2 = Basic(48, 64, 5, padding: 2);
            branch3x3dbl_1 = Basic(input, 64, 1);
            branch3x3dbl_2 = Basic(64, 96, 3, padding: 1);
            branch3x3dbl_3 = Basic(96, 96, 3, padding: 1);
            branch_pool = Basic(input, poolFeatures, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => cat([
            branch1x1.forward(x),
            branch5x5_2.forward(branch5x5_1.forward(x)),
            branch3x3dbl_3.forward(branch3x3dbl_2.forward(branch3x3dbl_1.forward(x))),
            branch_pool.forward(AvgPoolExcludingPad(x))], 1);
    }

    sealed class BlockB : Module<Tensor, Tensor>
    {
        readonly BasicConv branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3;

        public BlockB(int input) : base("InceptionB")
        {
            branch3x3 = Basic(input, 384, 3, stride: 2);
            branch3x3dbl_1 = Basic(input, 64, 1);
            branch3x3dbl_2 = Basic(64, 96, 3, padding: 1);
            branch3x3dbl_3 = Basic(96, 96, 3, stride: 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => cat([
            branch3x3.forward(x),
            branch3x3dbl_3.forward(branch3x3dbl_2.forward(branch3x3dbl_1.forward(x))),
            functional.max_pool2d(x, 3, stride: 2)], 1);
    }

    sealed class BlockC : Module<Tensor, Tensor>
    {
        readonly BasicConv branch1x1, branch7x7_1, branch7x7_2, branch7x7_3, branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool;

        public BlockC(int input, int c7) : base("FIDInceptionC")
        {
            branch1x1 = Basic(input, 192, 1);
            branch7x7_1 = Basic(input, c7, 1);
            branch7x7_2 = Basic(c7, c7, (1, 7), (0, 3));
            branch7x7_3 = Basic(c7, 192, (7, 1), (3, 0));
            branch7x7dbl_1 = Basic(input, c7, 1);
            branch7x7dbl_2 = Basic(c7, c7, (7, 1), (3, 0));
            branch7x7dbl_3 = Basic(c7, c7, (1, 7), (0, 3));
            branch7x7dbl_4 = Basic(c7, c7, (7, 1), (3, 0));
            branch7x7dbl_5 = Basic(c7, 192, (1, 7), (0, 3));
            branch_pool = Basic(input, 192, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => cat([
            branch1x1.forward(x),
            branch7x7_3.forward(branch7x7_2.forward(branch7x7_1.forward(x))),
            branch7x7dbl_5.forward(branch7x7dbl_4.forward(branch7x7dbl_3.forward(branch7x7dbl_2.forward(branch7x7dbl_1.forward(x))))),
            branch_pool.forward(AvgPoolExcludingPad(x))], 1);
    }

    sealed class BlockD : Module<Tensor, Tensor>
    {
        readonly BasicConv branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4;

        public BlockD(int input) : base("InceptionD")
        {
            branch3x3_1 = Basic(input, 192, 1);
            branch3x3_2 = Basic(192, 320, 3, stride: 2);
            branch7x7x3_1 = Basic(input, 192, 1);
            branch7x7x3_2 = Basic(192, 192, (1, 7), (0, 3));
            branch7x7x3_3 = Basic(192, 192, (7, 1), (3, 0));
            branch7x7x3_4 = Basic(192, 192, 3, stride: 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => cat([
            branch3x3_2.forward(branch3x3_1.forward(x)),
            branch7x7x3_4.forward(branch7x7x3_3.forward(branch7x7x3_2.forward(branch7x7x3_1.forward(x)))),
            functional.max_pool2d(x, 3, stride: 2)], 1);
    }

    /// <summary>FIDInceptionE_1 (average pool excluding padding) or FIDInceptionE_2 (max pool).</summary>
    sealed class BlockE : Module<Tensor, Tensor>
    {
        readonly BasicConv branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool;
        readonly bool maxPool;

        public BlockE(int input, bool maxPool) : base(maxPool ? "FIDInceptionE_2" : "FIDInceptionE_1")
        {
            this.maxPool = maxPool;
            branch1x1 = Basic(input, 320, 1);
            branch3x3_1 = Basic(input, 384, 1);
            branch3x3_2a = Basic(384, 384, (1, 3), (0, 1));
            branch3x3_2b = Basic(384, 384, (3, 1), (1, 0));
            branch3x3dbl_1 = Basic(input, 448, 1);
            branch3x3dbl_2 = Basic(448, 384, 3, padding: 1);
            branch3x3dbl_3a = Basic(384, 384, (1, 3), (0, 1));
            branch3x3dbl_3b = Basic(384, 384, (3, 1), (1, 0));
            branch_pool = Basic(input, 192, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var b3 = branch3x3_1.forward(x);
            var d = branch3x3dbl_2.forward(branch3x3dbl_1.forward(x));
            var pooled = maxPool ? functional.max_pool2d(x, 3, stride: 1, padding: 1) : AvgPoolExcludingPad(x);
            return cat([
                branch1x1.forward(x),
                cat([branch3x3_2a.forward(b3), branch3x3_2b.forward(b3)], 1),
                cat([branch3x3dbl_3a.forward(d), branch3x3dbl_3b.forward(d)], 1),
                branch_pool.forward(pooled)], 1);
        }
    }
}

/// <summary>Inception-v3 pool3 features (2048-d), as pytorch-fid computes them, from user-supplied weights.</summary>
public sealed class InceptionV3Features(InceptionV3 network, Device device) : IFeatureExtractor
{
    /// <summary>Builds the network and loads <paramref name="weightsPath"/> (safetensors).</summary>
    public static InceptionV3Features Load(string weightsPath, Device device)
    {
        var net = new InceptionV3();
        net.LoadSafetensors(weightsPath);
        net.to(device).eval();
        return new InceptionV3Features(net, device);
    }

    /// <inheritdoc/>
    public string Name => "Inception-v3 pool3 (pytorch-fid architecture)";
    /// <inheritdoc/>
    public int Dimension => 2048;

    /// <inheritdoc/>
    public double[] Extract(ReadOnlySpan<float> images, int count, int channels, int size, IProgress<int>? progress = null)
    {
        using var _ = no_grad();
        int per = channels * size * size;
        var result = new double[(long)count * Dimension];
        const int batch = 50;
        for (int start = 0; start < count; start += batch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batch, count - start);
            var x = tensor(images.Slice(start * per, n * per).ToArray()).reshape(n, channels, size, size).to(device);
            if (channels == 1) x = x.expand(n, 3, size, size);
            network.forward(x).to(float64).cpu().data<double>().CopyTo(result.AsSpan(start * Dimension, n * Dimension));
            progress?.Report(start + n);
        }
        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => network.Dispose();
}
