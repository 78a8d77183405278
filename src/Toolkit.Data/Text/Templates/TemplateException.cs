namespace Toolkit.Data.Text.Templates;

/// <summary>
/// A template that cannot be parsed (a syntax error or a construct outside the supported Jinja subset) or that
/// fails while rendering (<c>raise_exception</c>, an undefined value used where Jinja fails, a type error, a limit).
/// Derives from <see cref="FormatException"/> (<see cref="InvalidDataException"/> is sealed), which command-line
/// front ends already report as bad input.
/// </summary>
public class TemplateException : FormatException
{
    /// <summary>Creates the exception; <paramref name="reason"/> is the bare message without a location.</summary>
    public TemplateException(string reason, string? templateName = null, int line = 0, int column = 0, Exception? inner = null)
        : base(Format(reason, templateName, line, column), inner)
    {
        Reason = reason;
        TemplateName = templateName;
        Line = line;
        Column = column;
    }

    /// <summary>
    /// What went wrong, without the location. For a template's own <c>raise_exception(msg)</c> this is exactly
    /// <c>msg</c>, as Python's <c>str(exception)</c> would print it.
    /// </summary>
    public string Reason { get; }

    /// <summary>The template's name as given to <c>Parse</c> (usually the file it came from), or null.</summary>
    public string? TemplateName { get; }

    /// <summary>1-based line of the construct that failed, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column of the construct that failed, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>True when the template itself called <c>raise_exception</c>.</summary>
    public bool RaisedByTemplate { get; init; }

    /// <summary>The Python exception type jinja2 would raise (TemplateError, UndefinedError, TypeError, ...).</summary>
    public string Kind { get; init; } = "TemplateError";

    internal TemplateException WithLocation(string? templateName, int line, int column) =>
        Line != 0 ? this : new TemplateException(Reason, templateName ?? TemplateName, line, column, InnerException)
        {
            RaisedByTemplate = RaisedByTemplate,
            Kind = Kind,
        };

    static string Format(string reason, string? templateName, int line, int column)
    {
        string where = templateName is null ? "template" : $"template '{templateName}'";
        if (line > 0)
            where += column > 0 ? $" line {line}, column {column}" : $" line {line}";
        return $"{where}: {reason}";
    }
}
