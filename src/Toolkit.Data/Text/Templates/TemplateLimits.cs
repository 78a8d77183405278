namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Guards against runaway templates. A template (possibly hostile or corrupt) that exceeds one of these gets a
/// <see cref="TemplateException"/> instead of hanging, exhausting memory or overflowing the stack.
/// </summary>
public sealed record TemplateLimits
{
    /// <summary>The defaults: generous for real chat templates (which render a few kilobytes in a few thousand steps).</summary>
    public static TemplateLimits Default { get; } = new();

    /// <summary>Most characters a render may produce, and the largest string or list a template may build (16 Mi).</summary>
    public int MaxOutputLength { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most evaluation steps (statements executed, loop iterations, calls) in one render (10 million).</summary>
    public long MaxSteps { get; init; } = 10_000_000;

    /// <summary>Deepest macro call nesting (Python's own recursion limit would stop jinja2 near this depth too).</summary>
    public int MaxCallDepth { get; init; } = 200;

    /// <summary>Deepest nesting of expressions and blocks the parser accepts.</summary>
    public int MaxNestingDepth { get; init; } = 200;

    /// <summary>Largest integer magnitude, in bits, arithmetic may produce.</summary>
    public int MaxIntegerBits { get; init; } = 4096;

    /// <summary>Longest <c>range(...)</c>, as in jinja2's sandbox (100,000).</summary>
    public int MaxRange { get; init; } = 100_000;
}
