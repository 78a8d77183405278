using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Wwae.Models;

/// <summary>What the encoder produced for a batch: the code used by the decoder and the posterior's parameters.</summary>
public sealed record Encoding(Tensor Z, Tensor Mean, Tensor LogVariance);

/// <summary>
/// Gaussian encoder Q(z|x) = N(mu(x), diag(sigma^2(x))) sampled with the reparameterisation trick
/// (z = mu + sigma * eps), and a deterministic decoder G(z) with a sigmoid output in [0, 1].
/// DCGAN-style: stride-2 4x4 convolutions with batch norm and ReLU, mirrored by transposed convolutions.
/// </summary>
public sealed class GaussianAutoEncoder : Module<Tensor, Tensor>
{
    readonly Sequential encoder;
    readonly Linear encoderHead;
    readonly Sequential decoder;

    /// <summary>The configuration this model was built from.</summary>
    public AutoEncoderConfig Config { get; }

    /// <summary>Builds the model (on the CPU; move it with <c>to(device)</c>).</summary>
    public GaussianAutoEncoder(AutoEncoderConfig config) : base("GaussianAutoEncoder")
    {
        config.Validate();
        Config = config;
        int bottom = config.BottomSize, bottomChannels = config.BottomChannels, flat = bottomChannels * bottom * bottom;

        var enc = new List<(string, Module<Tensor, Tensor>)>();
        int inCh = config.Channels;
        for (int s = 0; s < config.Stages; s++)
        {
            int outCh = config.Width << s;
            enc.Add(($"conv{s}", Conv2d(inCh, outCh, 4, stride: 2, padding: 1, bias: false)));
            enc.Add(($"bn{s}", BatchNorm2d(outCh)));
            enc.Add(($"relu{s}", ReLU()));
            inCh = outCh;
        }
        enc.Add(("flatten", Flatten()));
        encoder = Sequential(enc);
        encoderHead = Linear(flat, 2 * config.Latent);

        var dec = new List<(string, Module<Tensor, Tensor>)>
        {
            ("fc", Linear(config.Latent, flat, hasBias: false)),
            ("fcbn", BatchNorm1d(flat)),
            ("fcrelu", ReLU()),
            ("unflatten", Unflatten(1, [bottomChannels, bottom, bottom])),
        };
        inCh = bottomChannels;
        for (int s = config.Stages - 2; s >= -1; s--)
        {
            bool last = s < 0;
            int outCh = last ? config.Channels : config.Width << s;
            dec.Add(($"deconv{s + 1}", ConvTranspose2d(inCh, outCh, 4, stride: 2, padding: 1, bias: last)));
            if (!last)
            {
                dec.Add(($"bn{s + 1}", BatchNorm2d(outCh)));
                dec.Add(($"relu{s + 1}", ReLU()));
            }
            inCh = outCh;
        }
        dec.Add(("sigmoid", Sigmoid()));
        decoder = Sequential(dec);
        RegisterComponents();
    }

    /// <summary>Encodes a batch (N x C x H x W in [0, 1]); samples z unless the model is deterministic or <paramref name="sample"/> is false.</summary>
    public Encoding Encode(Tensor x, bool sample = true)
    {
        var h = encoderHead.forward(encoder.forward(x));
        var parts = h.chunk(2, dim: 1);
        var mean = parts[0];
        var logVar = parts[1].clamp(-12, 8);
        if (Config.Deterministic || !sample) return new Encoding(mean, mean, logVar);
        var eps = randn_like(mean);
        return new Encoding(mean + (0.5 * logVar).exp() * eps, mean, logVar);
    }

    /// <summary>Decodes codes (N x latent) to images in [0, 1].</summary>
    public Tensor Decode(Tensor z) => decoder.forward(z);

    /// <summary>Reconstructs x through a sampled code.</summary>
    public override Tensor forward(Tensor x) => Decode(Encode(x).Z);
}
