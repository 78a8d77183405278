namespace Wwae.Models;

/// <summary>
/// Shape of a DCGAN-style convolutional auto-encoder. 28x28 images (MNIST, Fashion-MNIST) use two
/// stride-2 stages (28-14-7); 64x64 images (CelebA) use four (64-32-16-8-4). Channels double per stage,
/// starting at <see cref="Width"/>.
/// </summary>
/// <param name="Channels">Image channels: 1 (grey) or 3 (RGB).</param>
/// <param name="ImageSize">Side of the square image: 28 or 64.</param>
/// <param name="Latent">Latent code size.</param>
/// <param name="Width">Channels of the first convolution.</param>
/// <param name="Deterministic">True: the encoder outputs z = mu(x) (no noise, as WAE-MMD); false: z = mu + sigma * eps.</param>
public sealed record AutoEncoderConfig(int Channels, int ImageSize, int Latent, int Width, bool Deterministic)
{
    /// <summary>Number of stride-2 stages for this image size.</summary>
    public int Stages => ImageSize switch
    {
        28 => 2,
        64 => 4,
        _ => throw new ArgumentException($"image size {ImageSize} is not supported; use 28 (MNIST-style) or 64 (CelebA)."),
    };

    /// <summary>Spatial side after the last encoder stage (7 or 4).</summary>
    public int BottomSize => ImageSize >> Stages;

    /// <summary>Channels after the last encoder stage.</summary>
    public int BottomChannels => Width << (Stages - 1);

    /// <summary>Throws when the configuration cannot be built.</summary>
    public void Validate()
    {
        if (Channels is not (1 or 3)) throw new ArgumentException($"images must have 1 or 3 channels, not {Channels}.");
        _ = Stages;
        if (Latent < 1) throw new ArgumentException($"--latent must be at least 1 (got {Latent}).");
        if (Width < 1) throw new ArgumentException($"--width must be at least 1 (got {Width}).");
    }
}
