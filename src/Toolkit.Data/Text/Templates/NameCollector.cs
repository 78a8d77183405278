namespace Toolkit.Data.Text.Templates;

/// <summary>Collects the variable names an expression or statement list reads (to find macros that use <c>varargs</c> or <c>kwargs</c>).</summary>
internal static class NameCollector
{
    public static void Collect(IEnumerable<Stmt> body, HashSet<string> names)
    {
        foreach (var stmt in body)
            Collect(stmt, names);
    }

    static void Collect(Stmt stmt, HashSet<string> names)
    {
        switch (stmt)
        {
            case OutputStmt s: Collect(s.Value, names); break;
            case IfStmt s: Collect(s.Test, names); Collect(s.Body, names); Collect(s.Else, names); break;
            case ForStmt s: Collect(s.Iterable, names); Collect(s.Filter, names); Collect(s.Body, names); Collect(s.Else, names); break;
            case SetStmt s: Collect(s.Value, names); break;
            case SetBlockStmt s: Collect(s.Body, names); Collect(s.Filter, names); break;
            case FilterBlockStmt s: Collect(s.Filter, names); Collect(s.Body, names); break;
            case WithStmt s:
                foreach (var (_, value) in s.Assignments)
                    Collect(value, names);
                Collect(s.Body, names);
                break;
            case GenerationStmt s: Collect(s.Body, names); break;
        }
    }

    static void Collect(CallArguments arguments, HashSet<string> names)
    {
        foreach (var e in arguments.Positional)
            Collect(e, names);
        foreach (var (_, e) in arguments.Keyword)
            Collect(e, names);
        Collect(arguments.StarArgs, names);
        Collect(arguments.StarKwargs, names);
    }

    static void Collect(Expr? expr, HashSet<string> names)
    {
        switch (expr)
        {
            case null: break;
            case NameExpr e: names.Add(e.Name); break;
            case ListExpr e: foreach (var i in e.Items) Collect(i, names); break;
            case TupleExpr e: foreach (var i in e.Items) Collect(i, names); break;
            case DictExpr e: foreach (var (k, v) in e.Pairs) { Collect(k, names); Collect(v, names); } break;
            case AttributeExpr e: Collect(e.Target, names); break;
            case ItemExpr e: Collect(e.Target, names); Collect(e.Key, names); break;
            case SliceExpr e: Collect(e.Start, names); Collect(e.Stop, names); Collect(e.Step, names); break;
            case CallExpr e: Collect(e.Callee, names); Collect(e.Arguments, names); break;
            case FilterExpr e: Collect(e.Operand, names); Collect(e.Arguments, names); break;
            case TestExpr e: Collect(e.Operand, names); Collect(e.Arguments, names); break;
            case UnaryExpr e: Collect(e.Operand, names); break;
            case BinaryExpr e: Collect(e.Left, names); Collect(e.Right, names); break;
            case CompareExpr e: Collect(e.Left, names); foreach (var (_, r) in e.Operations) Collect(r, names); break;
            case ConditionalExpr e: Collect(e.Test, names); Collect(e.Then, names); Collect(e.Else, names); break;
        }
    }
}
