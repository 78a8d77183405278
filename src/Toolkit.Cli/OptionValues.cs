using System.Globalization;
using Toolkit.Runtime;

namespace Toolkit.Cli;

/// <summary>
/// Parses option values that several commands share: comma-separated lists, sizes, fractions and on/off/both switches.
/// Every error names the option and the value and says what to write instead.
/// </summary>
public static class OptionValues
{
    /// <summary>The comma-separated items of <paramref name="text"/>, each parsed by <paramref name="parse"/>; empty items are an error.</summary>
    public static IReadOnlyList<T> List<T>(string text, string option, Func<string, T> parse)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.Length == 0 || items.Any(i => i.Length == 0))
            throw new ArgumentException($"{option} '{text}': write a comma-separated list without empty items, as in 1,2,3.");
        return items.Select(parse).ToArray();
    }

    /// <summary>A comma-separated list of names (no empty items).</summary>
    public static IReadOnlyList<string> Names(string text, string option) => List(text, option, s => s);

    /// <summary>An integer of at least <paramref name="minimum"/>.</summary>
    public static int Int(string text, string option, int minimum = int.MinValue) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= minimum ? v
            : throw new ArgumentException(minimum == int.MinValue ? $"{option} '{text}' is not an integer." : $"{option} '{text}' must be an integer of at least {minimum}.");

    /// <summary>Comma-separated integers, each at least <paramref name="minimum"/>.</summary>
    public static IReadOnlyList<int> Ints(string text, string option, int minimum = int.MinValue) => List(text, option, s => Int(s, option, minimum));

    /// <summary>A number in (0, 1].</summary>
    public static double Fraction(string text, string option) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v <= 1 ? v
            : throw new ArgumentException($"{option} '{text}' must be a number in (0, 1], as in 0.25.");

    /// <summary>Comma-separated numbers in (0, 1].</summary>
    public static IReadOnlyList<double> Fractions(string text, string option) => List(text, option, s => Fraction(s, option));

    /// <summary>A byte size such as 6.5GiB, 4096MiB, 4GB or a number of bytes.</summary>
    public static long Size(string text, string option) =>
        MemorySize.TryParse(text, out long bytes) ? bytes
            : throw new ArgumentException($"{option} '{text}' is not a memory size; write it like 6.5GiB, 4096MiB, 4GB or a number of bytes.");

    /// <summary>Comma-separated byte sizes.</summary>
    public static IReadOnlyList<long> Sizes(string text, string option) => List(text, option, s => Size(s, option));

    /// <summary><c>on</c>, <c>off</c> or <c>both</c> as the modes to run (both: on first).</summary>
    public static IReadOnlyList<bool> OnOffBoth(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "both" => [true, false],
        "on" => [true],
        "off" => [false],
        _ => throw new ArgumentException($"{option} '{text}': use on, off or both."),
    };

    /// <summary>One of <paramref name="choices"/> (case-insensitive), returned as written there.</summary>
    public static string Choice(string text, string option, params string[] choices) =>
        choices.FirstOrDefault(c => string.Equals(c, text.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"{option} '{text}' is unknown; use {string.Join(", ", choices)}.");
}
