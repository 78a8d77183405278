using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>Loads TorchSharp weight files (model.save) so that a damaged or foreign file gives one clear error naming it.</summary>
public static class WeightFile
{
    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="module"/>. A missing file is a <see cref="FileNotFoundException"/>;
    /// a truncated, damaged or mismatched one (TorchSharp reports end of stream, wrong entry counts or shapes, absurd
    /// lengths) or one holding NaN or infinite values is an <see cref="InvalidDataException"/> saying what to do.
    /// </summary>
    public static void Load(nn.Module module, string path, string what, string remedy)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} '{path}' is missing; {remedy}.", path);
        try
        {
            module.load(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{what} '{path}' is damaged or was written for another model ({FirstLine(e.Message)}); {remedy}.", e);
        }
        using var _ = no_grad();
        foreach (var (name, tensor) in module.state_dict())
            if (tensor.is_floating_point() && !tensor.isfinite().all().item<bool>())
                throw new InvalidDataException($"{what} '{path}' holds NaN or infinite values in '{name}' (saved from a diverged run?); {remedy}.");
    }

    static string FirstLine(string message) => message.Split('\n')[0].TrimEnd().TrimEnd('.');
}
