namespace Toolkit.Data.Text.Templates;

/// <summary>A statement of the template's syntax tree (immutable).</summary>
internal abstract record Stmt(int Line, int Column);

/// <summary>Literal text.</summary>
internal sealed record DataStmt(string Text, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{{ expr }}</c></summary>
internal sealed record OutputStmt(Expr Value, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% if %}...{% elif %}...{% else %}...{% endif %}</c> (elif nests in the else branch).</summary>
internal sealed record IfStmt(Expr Test, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% for target in iter if filter %}...{% else %}...{% endfor %}</c></summary>
internal sealed record ForStmt(Target Target, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% set target = expr %}</c></summary>
internal sealed record SetStmt(Target Target, Expr Value, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% set name | filters %}...{% endset %}</c></summary>
internal sealed record SetBlockStmt(Target Target, IReadOnlyList<Stmt> Body, Expr? Filter, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% macro name(a, b=default) %}...{% endmacro %}</c></summary>
internal sealed record MacroStmt(string Name, IReadOnlyList<string> Parameters, IReadOnlyList<Expr?> Defaults, IReadOnlyList<Stmt> Body, bool UsesVarargs, bool UsesKwargs, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% filter name %}...{% endfilter %}</c>; the filter chain's innermost operand is the body.</summary>
internal sealed record FilterBlockStmt(Expr Filter, IReadOnlyList<Stmt> Body, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% with a = 1 %}...{% endwith %}</c></summary>
internal sealed record WithStmt(IReadOnlyList<(Target Target, Expr Value)> Assignments, IReadOnlyList<Stmt> Body, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% generation %}...{% endgeneration %}</c> (transformers' assistant-mask marker): renders its body.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, int Line, int Column) : Stmt(Line, Column);

/// <summary>Several statements from one tag (<c>{% print a, b %}</c>), executed in the same scope.</summary>
internal sealed record SequenceStmt(IReadOnlyList<Stmt> Body, int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% break %}</c></summary>
internal sealed record BreakStmt(int Line, int Column) : Stmt(Line, Column);

/// <summary><c>{% continue %}</c></summary>
internal sealed record ContinueStmt(int Line, int Column) : Stmt(Line, Column);

/// <summary>An assignment target.</summary>
internal abstract record Target(int Line, int Column);

/// <summary>A plain name.</summary>
internal sealed record NameTarget(string Name, int Line, int Column) : Target(Line, Column);

/// <summary><c>a, b</c> (unpacking).</summary>
internal sealed record TupleTarget(IReadOnlyList<Target> Items, int Line, int Column) : Target(Line, Column);

/// <summary><c>ns.attr</c> (only in set).</summary>
internal sealed record NamespaceTarget(string Namespace, string Attribute, int Line, int Column) : Target(Line, Column);
