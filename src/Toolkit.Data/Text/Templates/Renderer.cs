using System.Runtime.CompilerServices;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Executes a parsed template for one render. All mutable state of a render lives here, so a template's syntax
/// tree can be shared by concurrent renders.
/// </summary>
internal sealed class Renderer
{
    enum Flow { Normal, Break, Continue }

    [ThreadStatic]
    static Renderer? active;

    readonly string? templateName;
    long steps;
    int callDepth;
    Stmt? currentStatement;

    public Renderer(string? templateName, TemplateLimits limits, DateTimeOffset? now)
    {
        this.templateName = templateName;
        Limits = limits;
        Now = now;
    }

    public TemplateLimits Limits { get; }

    public DateTimeOffset? Now { get; }

    public string Render(IReadOnlyList<Stmt> body, IReadOnlyDictionary<string, object?> variables)
    {
        var root = new Scope(new Scope(null, Globals.Table), variables);
        var output = new StringBuilder();
        var previous = active;
        active = this;
        try
        {
            Execute(body, root, output);
        }
        catch (TemplateException e)
        {
            throw e.WithLocation(templateName, currentStatement?.Line ?? 0, currentStatement?.Column ?? 0);
        }
        catch (InsufficientExecutionStackException e)
        {
            throw new TemplateException("template recursion too deep", templateName, currentStatement?.Line ?? 0, currentStatement?.Column ?? 0, e) { Kind = "RecursionError" };
        }
        finally
        {
            active = previous;
        }
        return output.ToString();
    }

    /// <summary>Charges work done outside statements (comparing, printing, hashing values) to the active render's step budget.</summary>
    public static void Tick(long count = 1)
    {
        if (active is { } renderer)
            renderer.Step(count);
    }

    /// <summary>The longest string or list the active render may build (no limit outside a render).</summary>
    public static int MaxLength => active?.Limits.MaxOutputLength ?? int.MaxValue;

    void Step(long count = 1)
    {
        if ((steps += count) > Limits.MaxSteps)
            throw new TemplateException($"render took more than {Limits.MaxSteps} steps (an endless or runaway loop?)") { Kind = "LimitError" };
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new TemplateException("template recursion too deep") { Kind = "RecursionError" };
    }

    void Append(StringBuilder output, string text)
    {
        if ((long)output.Length + text.Length > Limits.MaxOutputLength)
            throw new TemplateException($"output longer than {Limits.MaxOutputLength} characters") { Kind = "LimitError" };
        output.Append(text);
    }

    Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = Execute(stmt, scope, output);
            if (flow != Flow.Normal)
                return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Stmt stmt, Scope scope, StringBuilder output)
    {
        Step();
        currentStatement = stmt;
        switch (stmt)
        {
            case DataStmt data:
                Append(output, data.Text);
                return Flow.Normal;
            case OutputStmt s:
                Append(output, PyFormat.Str(Evaluate(s.Value, scope)));
                return Flow.Normal;
            case IfStmt s:
                return Execute(PyOps.Truthy(Evaluate(s.Test, scope)) ? s.Body : s.Else, scope, output);
            case ForStmt s:
                ExecuteFor(s, scope, output);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt s:
                {
                    string text = Capture(s.Body, new Scope(scope));
                    object? value = s.Filter is null ? text : ApplyFilterChain(s.Filter, text, scope);
                    Assign(s.Target, value, scope);
                    return Flow.Normal;
                }
            case MacroStmt s:
                scope.Set(s.Name, new Macro(s, scope));
                return Flow.Normal;
            case FilterBlockStmt s:
                Append(output, PyFormat.Str(ApplyFilterChain(s.Filter, Capture(s.Body, new Scope(scope)), scope)));
                return Flow.Normal;
            case WithStmt s:
                {
                    var inner = new Scope(scope);
                    var values = s.Assignments.Select(a => Evaluate(a.Value, scope)).ToList();
                    for (int i = 0; i < values.Count; i++)
                        Assign(s.Assignments[i].Target, values[i], inner);
                    return Execute(s.Body, inner, output);
                }
            case GenerationStmt s:
                return Execute(s.Body, scope, output);
            case SequenceStmt s:
                return Execute(s.Body, scope, output);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
        }
        throw new InvalidOperationException($"unknown statement {stmt.GetType().Name}");
    }

    string Capture(IReadOnlyList<Stmt> body, Scope scope)
    {
        var buffer = new StringBuilder();
        Execute(body, scope, buffer);
        return buffer.ToString();
    }

    void ExecuteFor(ForStmt s, Scope scope, StringBuilder output)
    {
        IReadOnlyList<object?> items = PyOps.Iterate(Evaluate(s.Iterable, scope));
        if (s.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                Step();
                var filterScope = new Scope(scope);
                Assign(s.Target, item, filterScope);
                if (PyOps.Truthy(Evaluate(s.Filter, filterScope)))
                    kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            Execute(s.Else, new Scope(scope), output);
            return;
        }
        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            Step();
            loop.Index0 = i;
            var iteration = new Scope(scope);
            Assign(s.Target, items[i], iteration);
            iteration.Set("loop", loop);
            if (Execute(s.Body, iteration, output) == Flow.Break)
                break;
        }
    }

    void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget t:
                scope.Set(t.Name, value);
                break;
            case TupleTarget t:
                {
                    var items = PyOps.Iterate(value);
                    if (items.Count < t.Items.Count)
                        throw new TemplateException($"not enough values to unpack (expected {t.Items.Count}, got {items.Count})") { Kind = "ValueError" };
                    if (items.Count > t.Items.Count)
                        throw new TemplateException($"too many values to unpack (expected {t.Items.Count})") { Kind = "ValueError" };
                    for (int i = 0; i < items.Count; i++)
                        Assign(t.Items[i], items[i], scope);
                    break;
                }
            case NamespaceTarget t:
                {
                    if (!scope.TryGet(t.Namespace, out object? ns) || ns is not TemplateNamespace namespaceObject)
                        throw new TemplateException("cannot assign attribute on non-namespace object") { Kind = "TemplateRuntimeError" };
                    namespaceObject.Attributes.Set(t.Attribute, value);
                    break;
                }
        }
    }

    // ------------------------------------------------------------------ expressions

    public object? Evaluate(Expr expr, Scope scope)
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new TemplateException("template recursion too deep") { Kind = "RecursionError" };
        switch (expr)
        {
            case ConstExpr e:
                return e.Value;
            case NameExpr e:
                return scope.TryGet(e.Name, out object? value) ? value : Undefined.Variable(e.Name);
            case ListExpr e:
                return e.Items.Select(i => Evaluate(i, scope)).ToList();
            case TupleExpr e:
                return new PyTuple(e.Items.Select(i => Evaluate(i, scope)).ToList());
            case DictExpr e:
                {
                    var dict = new PyDict();
                    foreach (var (k, v) in e.Pairs)
                        dict.Set(Evaluate(k, scope), Evaluate(v, scope));
                    return dict;
                }
            case AttributeExpr e:
                return PyOps.GetAttribute(Evaluate(e.Target, scope), e.Name);
            case ItemExpr e:
                {
                    object? target = Evaluate(e.Target, scope);
                    if (e.Key is SliceExpr slice)
                        return PyOps.Slice(target,
                            slice.Start is null ? null : Evaluate(slice.Start, scope),
                            slice.Stop is null ? null : Evaluate(slice.Stop, scope),
                            slice.Step is null ? null : Evaluate(slice.Step, scope));
                    return PyOps.GetItem(target, Evaluate(e.Key, scope));
                }
            case SliceExpr:
                throw new TemplateException("a slice is only valid inside brackets") { Kind = "TemplateSyntaxError" };
            case CallExpr e:
                return Call(Evaluate(e.Callee, scope), EvaluateArguments(e.Arguments, scope));
            case FilterExpr e:
                return Filters.Apply(this, e.Name, e.Operand is null ? null : Evaluate(e.Operand, scope), EvaluateArguments(e.Arguments, scope));
            case TestExpr e:
                return TestFunctions.Apply(this, e.Name, Evaluate(e.Operand, scope), EvaluateArguments(e.Arguments, scope));
            case UnaryExpr e:
                {
                    object? operand = Evaluate(e.Operand, scope);
                    return e.Operator switch
                    {
                        "not" => !PyOps.Truthy(operand),
                        "-" => PyOps.Negate(operand, Limits),
                        _ => PyOps.Plus(operand),
                    };
                }
            case BinaryExpr e:
                return EvaluateBinary(e, scope);
            case CompareExpr e:
                {
                    object? left = Evaluate(e.Left, scope);
                    foreach (var (op, rightExpr) in e.Operations)
                    {
                        object? right = Evaluate(rightExpr, scope);
                        bool result = op switch
                        {
                            "==" => PyOps.Equal(left, right),
                            "!=" => !PyOps.Equal(left, right),
                            "<" => PyOps.Compare(left, right, op) < 0,
                            "<=" => PyOps.Compare(left, right, op) <= 0,
                            ">" => PyOps.Compare(left, right, op) > 0,
                            ">=" => PyOps.Compare(left, right, op) >= 0,
                            "in" => PyOps.Contains(right, left),
                            _ => !PyOps.Contains(right, left),
                        };
                        if (!result)
                            return false;
                        left = right;
                    }
                    return true;
                }
            case ConditionalExpr e:
                if (PyOps.Truthy(Evaluate(e.Test, scope)))
                    return Evaluate(e.Then, scope);
                return e.Else is null
                    ? Undefined.WithHint($"the inline if-expression on line {e.Line} evaluated to false and no else section was defined.")
                    : Evaluate(e.Else, scope);
        }
        throw new InvalidOperationException($"unknown expression {expr.GetType().Name}");
    }

    object? EvaluateBinary(BinaryExpr e, Scope scope)
    {
        object? left = Evaluate(e.Left, scope);
        switch (e.Operator)
        {
            case "and":
                return PyOps.Truthy(left) ? Evaluate(e.Right, scope) : left;
            case "or":
                return PyOps.Truthy(left) ? left : Evaluate(e.Right, scope);
        }
        object? right = Evaluate(e.Right, scope);
        switch (e.Operator)
        {
            case "~":
                {
                    string a = PyFormat.Str(left), b = PyFormat.Str(right);
                    if ((long)a.Length + b.Length > Limits.MaxOutputLength)
                        throw new TemplateException($"value too large: more than {Limits.MaxOutputLength} characters") { Kind = "MemoryError" };
                    return a + b;
                }
            case "+": return PyOps.Add(left, right, Limits);
            case "-": return PyOps.Subtract(left, right, Limits);
            case "*": return PyOps.Multiply(left, right, Limits);
            case "/": return PyOps.Divide(left, right);
            case "//": return PyOps.FloorDivide(left, right, Limits);
            case "%": return PyOps.Modulo(left, right, Limits);
            default: return PyOps.Power(left, right, Limits);
        }
    }

    Arguments EvaluateArguments(CallArguments arguments, Scope scope)
    {
        if (arguments.Positional.Count == 0 && arguments.Keyword.Count == 0 && arguments.StarArgs is null && arguments.StarKwargs is null)
            return new Arguments([], []);
        var positional = arguments.Positional.Select(a => Evaluate(a, scope)).ToList();
        var keyword = arguments.Keyword.Select(k => new KeyValuePair<string, object?>(k.Name, Evaluate(k.Value, scope))).ToList();
        if (arguments.StarArgs is not null)
            positional.AddRange(PyOps.Iterate(Evaluate(arguments.StarArgs, scope)));
        if (arguments.StarKwargs is not null)
        {
            object? mapping = Evaluate(arguments.StarKwargs, scope);
            if (mapping is not PyDict dict)
                throw new TemplateException($"argument after ** must be a mapping, not {PyOps.TypeName(mapping)}") { Kind = "TypeError" };
            foreach (var (k, v) in dict.Entries)
            {
                if (k is not string key)
                    throw new TemplateException("keywords must be strings") { Kind = "TypeError" };
                keyword.Add(new(key, v));
            }
        }
        return new Arguments(positional, keyword);
    }

    object? ApplyFilterChain(Expr filter, object? input, Scope scope)
    {
        var f = (FilterExpr)filter;
        object? operand = f.Operand is null ? input : ApplyFilterChain(f.Operand, input, scope);
        return Filters.Apply(this, f.Name, operand, EvaluateArguments(f.Arguments, scope));
    }

    /// <summary>Calls a template value (macro, global function, bound method).</summary>
    public object? Call(object? callee, Arguments arguments)
    {
        Step();
        switch (callee)
        {
            case Undefined u:
                throw u.Fail();
            case Macro macro:
                return CallMacro(macro, arguments);
            case BuiltinFunction function:
                return function.Invoke(this, arguments);
            case BoundMethod method:
                return method.Target switch
                {
                    string s => StringMethods.Call(this, s, method.Name, arguments),
                    PyDict d => DictMethods.Call(d, method.Name, arguments),
                    LoopContext loop => loop.Call(method.Name, arguments),
                    _ => ListMethods.Call(method.Target, method.Name, arguments),
                };
        }
        throw new TemplateException($"'{PyOps.TypeName(callee)}' object is not callable") { Kind = "TypeError" };
    }

    object? CallMacro(Macro macro, Arguments arguments)
    {
        var definition = macro.Definition;
        if (callDepth >= Limits.MaxCallDepth)
            throw new TemplateException("maximum recursion depth exceeded") { Kind = "RecursionError" };
        var scope = new Scope(macro.Closure);
        var keyword = new Dictionary<string, object?>();
        foreach (var (k, v) in arguments.Keyword)
            keyword[k] = v;
        int count = definition.Parameters.Count;
        for (int i = 0; i < count; i++)
        {
            string parameter = definition.Parameters[i];
            object? value;
            if (i < arguments.Positional.Count)
                value = arguments.Positional[i];
            else if (keyword.Remove(parameter, out object? given))
                value = given;
            else if (definition.Defaults[i] is { } defaultExpr)
                value = Evaluate(defaultExpr, scope);
            else
                value = Undefined.WithHint($"parameter {PyFormat.Repr(parameter)} was not provided");
            scope.Set(parameter, value);
        }
        if (definition.UsesKwargs)
        {
            var kwargs = new PyDict();
            foreach (var (k, v) in keyword)
                kwargs.Set(k, v);
            scope.Set("kwargs", kwargs);
        }
        else if (keyword.Count > 0)
            throw new TemplateException($"macro {PyFormat.Repr(definition.Name)} takes no keyword argument {PyFormat.Repr(keyword.Keys.First())}") { Kind = "TypeError" };
        if (definition.UsesVarargs)
            scope.Set("varargs", new PyTuple(arguments.Positional.Skip(count).ToList()));
        else if (arguments.Positional.Count > count)
            throw new TemplateException($"macro {PyFormat.Repr(definition.Name)} takes not more than {count} argument(s)") { Kind = "TypeError" };
        callDepth++;
        try
        {
            return Capture(definition.Body, scope);
        }
        finally
        {
            callDepth--;
        }
    }
}
