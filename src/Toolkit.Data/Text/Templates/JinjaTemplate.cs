namespace Toolkit.Data.Text.Templates;

/// <summary>
/// A Jinja template in the subset that Hugging Face chat templates use, rendered with the semantics of
/// transformers' sandboxed jinja2 environment (<c>trim_blocks</c>, <c>lstrip_blocks</c>, loop controls, Python
/// values). Parse once, render many times: a parsed template is immutable and safe to render from several threads.
/// docs/chat-templates.md lists the supported subset.
/// </summary>
public sealed class JinjaTemplate
{
    readonly IReadOnlyList<Stmt> body;

    JinjaTemplate(IReadOnlyList<Stmt> body, string? name, TemplateLimits limits)
    {
        this.body = body;
        Name = name;
        Limits = limits;
    }

    /// <summary>The name given to <see cref="Parse(string, string?)"/>, used in error messages.</summary>
    public string? Name { get; }

    /// <summary>The limits renders of this template run under.</summary>
    public TemplateLimits Limits { get; }

    /// <summary>Parses <paramref name="source"/>; <paramref name="name"/> (e.g. the file it came from) appears in error messages.</summary>
    /// <exception cref="TemplateException">A syntax error or a construct outside the supported subset.</exception>
    public static JinjaTemplate Parse(string source, string? name = null) => Parse(source, name, TemplateLimits.Default);

    /// <summary>Parses <paramref name="source"/> with explicit <paramref name="limits"/> for parsing and rendering.</summary>
    /// <exception cref="TemplateException">A syntax error or a construct outside the supported subset.</exception>
    public static JinjaTemplate Parse(string source, string? name, TemplateLimits limits)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(limits);
        return new JinjaTemplate(Parser.Parse(source, name, limits), name, limits);
    }

    /// <summary>
    /// Renders with <paramref name="variables"/>: strings, numbers, booleans, null, lists, dictionaries and
    /// System.Text.Json nodes (objects become Python dicts, arrays lists).
    /// </summary>
    /// <exception cref="TemplateException">The template raised an exception, used an undefined value where jinja2 fails, hit a type error or a limit.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables) => Render(variables, null);

    /// <summary>Renders with <paramref name="variables"/>; <paramref name="now"/> is the time <c>strftime_now</c> sees.</summary>
    /// <exception cref="TemplateException">The template raised an exception, used an undefined value where jinja2 fails, hit a type error or a limit.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, DateTimeOffset? now)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var converted = new Dictionary<string, object?>(variables.Count);
        foreach (var (key, value) in variables)
            converted[key] = TemplateValues.FromClr(value);
        return RenderValues(converted, now);
    }

    internal string RenderValues(IReadOnlyDictionary<string, object?> variables, DateTimeOffset? now) =>
        new Renderer(Name, Limits, now).Render(body, variables);
}
