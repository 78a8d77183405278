namespace Toolkit.Data.Text.Templates;

/// <summary>jinja2's <c>namespace(...)</c>: a mutable attribute bag that <c>{% set ns.attr = ... %}</c> can change from inside loops.</summary>
internal sealed class TemplateNamespace
{
    public PyDict Attributes { get; } = new();
}
