namespace Toolkit.Data.Text.Templates;

/// <summary>Evaluated arguments of a call, filter or test, bound to parameters with Python's rules.</summary>
internal sealed class Arguments(List<object?> positional, List<KeyValuePair<string, object?>> keyword)
{
    /// <summary>Marks a parameter that was not passed.</summary>
    public static readonly object Missing = new();

    public static readonly Arguments Empty = new([], []);

    public List<object?> Positional { get; } = positional;

    public List<KeyValuePair<string, object?>> Keyword { get; } = keyword;

    public static Arguments Of(params object?[] values) => new([.. values], []);

    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    /// <summary>
    /// Binds to <paramref name="names"/>, of which the first <paramref name="required"/> must be given; absent
    /// optional parameters come back as <see cref="Missing"/>.
    /// </summary>
    public object?[] Bind(string function, IReadOnlyList<string> names, int required = 0)
    {
        if (Positional.Count > names.Count)
            throw TypeError($"{function}() takes at most {names.Count} argument{(names.Count == 1 ? "" : "s")} ({Positional.Count} given)");
        var values = new object?[names.Count];
        Array.Fill(values, Missing);
        for (int i = 0; i < Positional.Count; i++)
            values[i] = Positional[i];
        foreach (var (key, value) in Keyword)
        {
            int at = -1;
            for (int i = 0; i < names.Count; i++)
                if (names[i] == key)
                    at = i;
            if (at < 0)
                throw TypeError($"{function}() got an unexpected keyword argument '{key}'");
            if (!ReferenceEquals(values[at], Missing))
                throw TypeError($"{function}() got multiple values for argument '{key}'");
            values[at] = value;
        }
        for (int i = 0; i < required; i++)
            if (ReferenceEquals(values[i], Missing))
                throw TypeError($"{function}() missing required argument '{names[i]}' (pos {i + 1})");
        return values;
    }

    /// <summary>Fails unless no keyword arguments were passed (Python builtins that take positional arguments only).</summary>
    public Arguments PositionalOnly(string function)
    {
        if (Keyword.Count > 0)
            throw TypeError($"{function}() takes no keyword arguments");
        return this;
    }

    public static bool IsMissing(object? value) => ReferenceEquals(value, Missing);

    public static object? Or(object? value, object? fallback) => IsMissing(value) ? fallback : value;
}
