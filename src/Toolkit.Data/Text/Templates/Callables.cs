namespace Toolkit.Data.Text.Templates;

/// <summary>A macro defined by <c>{% macro %}</c>, closed over the scope it was defined in.</summary>
internal sealed class Macro(MacroStmt definition, Scope closure)
{
    public string Name => Definition.Name;

    public MacroStmt Definition { get; } = definition;

    public Scope Closure { get; } = closure;
}

/// <summary>A global function (<c>range</c>, <c>namespace</c>, <c>raise_exception</c>, <c>strftime_now</c>, ...).</summary>
internal sealed class BuiltinFunction(string name, Func<Renderer, Arguments, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(Renderer renderer, Arguments arguments) => invoke(renderer, arguments);
}

/// <summary>A method looked up on a value (<c>text.strip</c>, <c>message.get</c>, <c>loop.cycle</c>), called later.</summary>
internal sealed class BoundMethod(object? target, string name)
{
    public object? Target { get; } = target;

    public string Name { get; } = name;
}
