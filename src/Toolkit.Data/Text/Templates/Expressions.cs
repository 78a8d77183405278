namespace Toolkit.Data.Text.Templates;

/// <summary>An expression of the template's syntax tree; immutable, so a parsed template can render on many threads.</summary>
internal abstract record Expr(int Line, int Column);

/// <summary>A literal: string, number, boolean or none.</summary>
internal sealed record ConstExpr(object? Value, int Line, int Column) : Expr(Line, Column);

/// <summary>A variable reference.</summary>
internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

/// <summary><c>[a, b]</c></summary>
internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line, int Column) : Expr(Line, Column);

/// <summary><c>(a, b)</c> or <c>a, b</c></summary>
internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line, int Column) : Expr(Line, Column);

/// <summary><c>{k: v}</c></summary>
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line, int Column) : Expr(Line, Column);

/// <summary><c>obj.name</c></summary>
internal sealed record AttributeExpr(Expr Target, string Name, int Line, int Column) : Expr(Line, Column);

/// <summary><c>obj[key]</c></summary>
internal sealed record ItemExpr(Expr Target, Expr Key, int Line, int Column) : Expr(Line, Column);

/// <summary><c>start:stop:step</c> inside brackets.</summary>
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);

/// <summary>Arguments of a call, filter or test.</summary>
internal sealed record CallArguments(
    IReadOnlyList<Expr> Positional,
    IReadOnlyList<(string Name, Expr Value)> Keyword,
    Expr? StarArgs,
    Expr? StarKwargs)
{
    public static readonly CallArguments None = new([], [], null, null);
}

/// <summary><c>callee(args)</c></summary>
internal sealed record CallExpr(Expr Callee, CallArguments Arguments, int Line, int Column) : Expr(Line, Column);

/// <summary><c>operand | name(args)</c>; a null operand stands for the body of a filter block.</summary>
internal sealed record FilterExpr(Expr? Operand, string Name, CallArguments Arguments, int Line, int Column) : Expr(Line, Column);

/// <summary><c>operand is name(args)</c></summary>
internal sealed record TestExpr(Expr Operand, string Name, CallArguments Arguments, int Line, int Column) : Expr(Line, Column);

/// <summary><c>not x</c>, <c>-x</c>, <c>+x</c></summary>
internal sealed record UnaryExpr(string Operator, Expr Operand, int Line, int Column) : Expr(Line, Column);

/// <summary>Arithmetic, <c>~</c>, <c>and</c>, <c>or</c>.</summary>
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

/// <summary>A (possibly chained) comparison: <c>a &lt; b &lt;= c</c>, <c>x in y</c>, <c>x not in y</c>.</summary>
internal sealed record CompareExpr(Expr Left, IReadOnlyList<(string Operator, Expr Right)> Operations, int Line, int Column) : Expr(Line, Column);

/// <summary><c>a if test else b</c> (without else: undefined).</summary>
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);
