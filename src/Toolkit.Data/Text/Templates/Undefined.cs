namespace Toolkit.Data.Text.Templates;

/// <summary>
/// jinja2's default <c>Undefined</c>: prints as nothing, is false, iterates as empty, compares equal only to another
/// undefined, and fails (with jinja2's message) when used in arithmetic, called, or asked for an attribute or item.
/// </summary>
internal sealed class Undefined
{
    /// <summary>An undefined with no name (e.g. a missing else branch of a conditional expression).</summary>
    public static readonly Undefined Anonymous = new(null, null, false, null);

    Undefined(string? hint, object? name, bool hasObject, object? obj, string kind = "UndefinedError")
    {
        Hint = hint;
        Name = name;
        HasObject = hasObject;
        Object = obj;
        Kind = kind;
    }

    public string? Hint { get; }

    public object? Name { get; }

    public bool HasObject { get; }

    public object? Object { get; }

    /// <summary>The exception jinja2 raises when this undefined is used (UndefinedError or SecurityError).</summary>
    public string Kind { get; }

    /// <summary>A variable that does not exist.</summary>
    public static Undefined Variable(string name) => new(null, name, false, null);

    /// <summary>A missing attribute or item of <paramref name="obj"/>.</summary>
    public static Undefined Missing(object? obj, object? name) => new(null, name, true, obj);

    /// <summary>An undefined carrying its own message (e.g. "No first item, sequence was empty.").</summary>
    public static Undefined WithHint(string hint) => new(hint, null, false, null);

    /// <summary>The sandbox's answer to an attribute that would mutate a value or reach Python internals.</summary>
    public static Undefined Unsafe(object? obj, string attribute) =>
        new($"access to attribute {PyFormat.Repr(attribute)} of {PyFormat.Repr(PyOps.TypeName(obj))} object is unsafe.", attribute, true, obj, "SecurityError");

    /// <summary>jinja2's <c>_undefined_message</c>.</summary>
    public string Message
    {
        get
        {
            if (Hint is not null)
                return Hint;
            if (!HasObject)
                return Name is null ? "value is undefined" : $"{PyFormat.Repr(Name)} is undefined";
            if (Name is not string)
                return $"{PyOps.ObjectTypeRepr(Object)} has no element {PyFormat.Repr(Name)}";
            return $"{PyFormat.Repr(PyOps.ObjectTypeRepr(Object))} has no attribute {PyFormat.Repr(Name)}";
        }
    }

    /// <summary>The exception raised when this undefined is used where jinja2 fails.</summary>
    public TemplateException Fail() => new(Message) { Kind = Kind };

    public override string ToString() => "";
}
