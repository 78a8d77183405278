using System.Runtime.CompilerServices;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Builds the syntax tree from tokens with jinja2's grammar and operator precedence. Constructs outside the
/// supported subset (includes, imports, inheritance, call blocks, unknown tags, filters and tests) are rejected
/// here, with the template's name, line and column.
/// </summary>
internal sealed class Parser
{
    static readonly HashSet<string> UnsupportedTags =
        ["call", "include", "import", "from", "extends", "block", "autoescape", "do", "trans", "pluralize", "debug"];

    static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];

    readonly List<Token> tokens;
    readonly string? name;
    readonly TemplateLimits limits;
    int index;
    int depth;
    int loopDepth;

    Parser(List<Token> tokens, string? name, TemplateLimits limits)
    {
        this.tokens = tokens;
        this.name = name;
        this.limits = limits;
    }

    public static IReadOnlyList<Stmt> Parse(string source, string? name, TemplateLimits limits)
    {
        var parser = new Parser(Lexer.Tokenize(source, name), name, limits);
        var body = parser.Subparse(null);
        if (parser.Current.Kind != TokenKind.End)
            throw parser.Error($"unexpected '{parser.Current.Describe()}'", parser.Current);
        return body;
    }

    Token Current => tokens[index];

    Token Peek(int offset = 1) => tokens[Math.Min(index + offset, tokens.Count - 1)];

    Token Next()
    {
        var token = tokens[index];
        if (index < tokens.Count - 1)
            index++;
        return token;
    }

    TemplateException Error(string message, Token at) =>
        new(message, name, at.Line, at.Column) { Kind = "TemplateSyntaxError" };

    TemplateException Unsupported(string construct, Token at) =>
        new($"{construct} is not supported", name, at.Line, at.Column) { Kind = "TemplateSyntaxError" };

    Token Expect(TokenKind kind, string? text = null)
    {
        var token = Current;
        if (token.Kind != kind || text is not null && token.Text != text)
        {
            string wanted = text ?? Token.DescribeKind(kind);
            throw Error($"expected token '{wanted}', got '{token.Describe()}'", token);
        }
        return Next();
    }

    bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op))
            return false;
        Next();
        return true;
    }

    bool SkipName(string value)
    {
        if (!Current.IsName(value))
            return false;
        Next();
        return true;
    }

    void Enter(Token at)
    {
        if (++depth > limits.MaxNestingDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error($"template nested too deeply (more than {limits.MaxNestingDepth} levels)", at);
    }

    void Leave() => depth--;

    // ---------------------------------------------------------------- statements

    List<Stmt> Subparse(HashSet<string>? endTags)
    {
        var body = new List<Stmt>();
        while (Current.Kind != TokenKind.End)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Data:
                    Next();
                    body.Add(new DataStmt(token.Text, token.Line, token.Column));
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    var expr = ParseTuple(withConditional: true);
                    Expect(TokenKind.VariableEnd);
                    body.Add(new OutputStmt(expr, token.Line, token.Column));
                    break;
                case TokenKind.BlockBegin:
                    Next();
                    if (endTags is not null && Current.Kind == TokenKind.Name && endTags.Contains(Current.Text))
                        return body;
                    body.Add(ParseStatement());
                    Expect(TokenKind.BlockEnd);
                    break;
                default:
                    throw Error($"unexpected '{token.Describe()}'", token);
            }
        }
        if (endTags is not null)
            throw Error($"unexpected end of template, expected {string.Join(" or ", endTags.Select(t => $"'{{% {t} %}}'"))}", Current);
        return body;
    }

    /// <summary>Parses statements up to one of <paramref name="endTags"/>; the stream is left on that tag's name.</summary>
    List<Stmt> ParseStatements(params string[] endTags)
    {
        SkipOperator(":");
        Expect(TokenKind.BlockEnd);
        return Subparse([.. endTags]);
    }

    Stmt ParseStatement()
    {
        var token = Current;
        if (token.Kind != TokenKind.Name)
            throw Error("tag name expected", token);
        Enter(token);
        try
        {
            switch (token.Text)
            {
                case "if": return ParseIf();
                case "for": return ParseFor();
                case "set": return ParseSet();
                case "macro": return ParseMacro();
                case "filter": return ParseFilterBlock();
                case "with": return ParseWith();
                case "print": return ParsePrint();
                case "generation": return ParseGeneration();
                case "break" or "continue":
                    Next();
                    if (loopDepth == 0)
                        throw Error($"'{{% {token.Text} %}}' outside of a for loop", token);
                    return token.Text == "break" ? new BreakStmt(token.Line, token.Column) : new ContinueStmt(token.Line, token.Column);
            }
            if (UnsupportedTags.Contains(token.Text))
                throw Unsupported($"'{{% {token.Text} %}}'", token);
            throw Error($"Encountered unknown tag '{token.Text}'.", token);
        }
        finally
        {
            Leave();
        }
    }

    Stmt ParseIf() => ParseIfBranch(Next());

    /// <summary>The test, body and else part of an <c>if</c> or <c>elif</c> whose keyword is already consumed.</summary>
    IfStmt ParseIfBranch(Token keyword)
    {
        var test = ParseTuple(withConditional: false);
        var body = ParseStatements("elif", "else", "endif");
        var tag = Next();
        IReadOnlyList<Stmt> elseBody = [];
        if (tag.Text == "elif")
        {
            Enter(tag);
            try
            {
                elseBody = [ParseIfBranch(tag)];
            }
            finally
            {
                Leave();
            }
        }
        else if (tag.Text == "else")
        {
            elseBody = ParseStatements("endif");
            Next();
        }
        return new IfStmt(test, body, elseBody, keyword.Line, keyword.Column);
    }

    Stmt ParseFor()
    {
        var start = Next();
        var target = ParseAssignTarget(withNamespace: false, endName: "in");
        Expect(TokenKind.Name, "in");
        var iterable = ParseTuple(withConditional: false, endName: "recursive");
        Expr? filter = null;
        if (SkipName("if"))
            filter = ParseExpression();
        if (Current.IsName("recursive"))
            throw Unsupported("'recursive' for loops", Current);
        loopDepth++;
        List<Stmt> body;
        try
        {
            body = ParseStatements("endfor", "else");
        }
        finally
        {
            loopDepth--;
        }
        IReadOnlyList<Stmt> elseBody = [];
        if (Next().Text == "else")
        {
            elseBody = ParseStatements("endfor");
            Next();
        }
        return new ForStmt(target, iterable, filter, body, elseBody, start.Line, start.Column);
    }

    Stmt ParseSet()
    {
        var start = Next();
        var target = ParseAssignTarget(withNamespace: true, endName: null);
        if (SkipOperator("="))
            return new SetStmt(target, ParseTuple(withConditional: true), start.Line, start.Column);
        Expr? filter = Current.IsOperator("|") ? ParseFilter(null, startInline: false) : null;
        var body = ParseStatements("endset");
        Next();
        return new SetBlockStmt(target, body, filter, start.Line, start.Column);
    }

    Stmt ParseMacro()
    {
        var start = Next();
        string macroName = Expect(TokenKind.Name).Text;
        var parameters = new List<string>();
        var defaults = new List<Expr?>();
        Expect(TokenKind.Operator, "(");
        bool anyDefault = false;
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
                Expect(TokenKind.Operator, ",");
            var parameter = Expect(TokenKind.Name);
            if (SkipOperator("="))
            {
                defaults.Add(ParseExpression());
                anyDefault = true;
            }
            else if (anyDefault)
                throw Error("non-default argument follows default argument", parameter);
            else
                defaults.Add(null);
            parameters.Add(parameter.Text);
        }
        Expect(TokenKind.Operator, ")");
        int savedLoopDepth = loopDepth;
        loopDepth = 0;
        List<Stmt> body;
        try
        {
            body = ParseStatements("endmacro");
        }
        finally
        {
            loopDepth = savedLoopDepth;
        }
        Next();
        var names = new HashSet<string>();
        NameCollector.Collect(body, names);
        return new MacroStmt(macroName, parameters, defaults, body, names.Contains("varargs"), names.Contains("kwargs"), start.Line, start.Column);
    }

    Stmt ParseFilterBlock()
    {
        var start = Next();
        var filter = ParseFilter(null, startInline: true);
        var body = ParseStatements("endfilter");
        Next();
        return new FilterBlockStmt(filter, body, start.Line, start.Column);
    }

    Stmt ParseWith()
    {
        var start = Next();
        var assignments = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0)
                Expect(TokenKind.Operator, ",");
            var target = ParseAssignTarget(withNamespace: false, endName: null);
            Expect(TokenKind.Operator, "=");
            assignments.Add((target, ParseExpression()));
        }
        var body = ParseStatements("endwith");
        Next();
        return new WithStmt(assignments, body, start.Line, start.Column);
    }

    Stmt ParsePrint()
    {
        var start = Next();
        var items = new List<Stmt>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (items.Count > 0)
                Expect(TokenKind.Operator, ",");
            var expr = ParseExpression();
            items.Add(new OutputStmt(expr, expr.Line, expr.Column));
        }
        return new SequenceStmt(items, start.Line, start.Column);
    }

    Stmt ParseGeneration()
    {
        var start = Next();
        var body = ParseStatements("endgeneration");
        Next();
        return new GenerationStmt(body, start.Line, start.Column);
    }

    Target ParseAssignTarget(bool withNamespace, string? endName)
    {
        var token = Current;
        if (withNamespace && token.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            Next();
            Next();
            var attribute = Expect(TokenKind.Name);
            return new NamespaceTarget(token.Text, attribute.Text, token.Line, token.Column);
        }
        var items = new List<Target>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
                Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(endName))
                break;
            items.Add(ParseTargetPrimary());
            if (Current.IsOperator(","))
                isTuple = true;
            else
                break;
        }
        if (items.Count == 0)
            throw Error($"expected an assignment target, got '{Current.Describe()}'", Current);
        return isTuple ? new TupleTarget(items, token.Line, token.Column) : items[0];
    }

    Target ParseTargetPrimary()
    {
        var token = Current;
        if (token.Kind == TokenKind.Name && token.Text is not ("true" or "false" or "none" or "True" or "False" or "None"))
        {
            Next();
            return new NameTarget(token.Text, token.Line, token.Column);
        }
        if (token.IsOperator("("))
        {
            Next();
            Enter(token);
            try
            {
                var inner = ParseAssignTarget(withNamespace: false, endName: null);
                Expect(TokenKind.Operator, ")");
                return inner;
            }
            finally
            {
                Leave();
            }
        }
        throw Error($"can't assign to '{token.Describe()}'", token);
    }

    // ---------------------------------------------------------------- expressions

    bool IsTupleEnd(string? endName) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")") || endName is not null && Current.IsName(endName);

    Expr ParseTuple(bool withConditional, string? endName = null, bool explicitParentheses = false)
    {
        var start = Current;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
                Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(endName))
                break;
            items.Add(ParseExpression(withConditional));
            if (Current.IsOperator(","))
                isTuple = true;
            else
                break;
        }
        if (!isTuple)
        {
            if (items.Count > 0)
                return items[0];
            if (!explicitParentheses)
                throw Error($"Expected an expression, got '{Current.Describe()}'", Current);
        }
        return new TupleExpr(items, start.Line, start.Column);
    }

    Expr ParseExpression(bool withConditional = true)
    {
        Enter(Current);
        try
        {
            return withConditional ? ParseConditional() : ParseOr();
        }
        finally
        {
            Leave();
        }
    }

    Expr ParseConditional()
    {
        var start = Current;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            Expr? otherwise = null;
            if (SkipName("else"))
                otherwise = ParseExpression();
            expr = new ConditionalExpr(test, expr, otherwise, start.Line, start.Column);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var op = Next();
            left = new BinaryExpr("or", left, ParseAnd(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var op = Next();
            left = new BinaryExpr("and", left, ParseNot(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var op = Next();
            Enter(op);
            try
            {
                return new UnaryExpr("not", ParseNot(), op.Line, op.Column);
            }
            finally
            {
                Leave();
            }
        }
        return ParseCompare();
    }

    Expr ParseCompare()
    {
        var start = Current;
        var left = ParseMath1();
        var operations = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Text))
                operations.Add((Next().Text, ParseMath1()));
            else if (SkipName("in"))
                operations.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                Next();
                Next();
                operations.Add(("not in", ParseMath1()));
            }
            else
                break;
        }
        return operations.Count == 0 ? left : new CompareExpr(left, operations, start.Line, start.Column);
    }

    Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(), op.Line, op.Column);
        }
        return left;
    }

    Expr ParseUnary(bool withFilter = true)
    {
        var token = Current;
        Enter(token);
        try
        {
            Expr node;
            if (token.IsOperator("-") || token.IsOperator("+"))
            {
                Next();
                node = new UnaryExpr(token.Text, ParseUnary(withFilter: false), token.Line, token.Column);
            }
            else
                node = ParsePrimary();
            node = ParsePostfix(node);
            if (withFilter)
                node = ParseFilterExpr(node);
            return node;
        }
        finally
        {
            Leave();
        }
    }

    Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                Next();
                return token.Text switch
                {
                    "true" or "True" => new ConstExpr(true, token.Line, token.Column),
                    "false" or "False" => new ConstExpr(false, token.Line, token.Column),
                    "none" or "None" => new ConstExpr(null, token.Line, token.Column),
                    _ => new NameExpr(token.Text, token.Line, token.Column),
                };
            case TokenKind.String:
                {
                    Next();
                    string text = (string)token.Value!;
                    while (Current.Kind == TokenKind.String)
                        text += (string)Next().Value!;
                    return new ConstExpr(text, token.Line, token.Column);
                }
            case TokenKind.Integer or TokenKind.Float:
                Next();
                return new ConstExpr(token.Value, token.Line, token.Column);
            case TokenKind.Operator when token.Text == "(":
                {
                    Next();
                    var inner = ParseTuple(withConditional: true, explicitParentheses: true);
                    Expect(TokenKind.Operator, ")");
                    return inner;
                }
            case TokenKind.Operator when token.Text == "[":
                {
                    Next();
                    var items = new List<Expr>();
                    while (!Current.IsOperator("]"))
                    {
                        if (items.Count > 0)
                            Expect(TokenKind.Operator, ",");
                        if (Current.IsOperator("]"))
                            break;
                        items.Add(ParseExpression());
                    }
                    Expect(TokenKind.Operator, "]");
                    return new ListExpr(items, token.Line, token.Column);
                }
            case TokenKind.Operator when token.Text == "{":
                {
                    Next();
                    var pairs = new List<(Expr, Expr)>();
                    while (!Current.IsOperator("}"))
                    {
                        if (pairs.Count > 0)
                            Expect(TokenKind.Operator, ",");
                        if (Current.IsOperator("}"))
                            break;
                        var key = ParseExpression();
                        Expect(TokenKind.Operator, ":");
                        pairs.Add((key, ParseExpression()));
                    }
                    Expect(TokenKind.Operator, "}");
                    return new DictExpr(pairs, token.Line, token.Column);
                }
        }
        throw Error($"unexpected '{token.Describe()}'", token);
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Next();
                var attribute = Next();
                if (attribute.Kind == TokenKind.Name)
                    node = new AttributeExpr(node, attribute.Text, token.Line, token.Column);
                else if (attribute.Kind == TokenKind.Integer)
                    node = new ItemExpr(node, new ConstExpr(attribute.Value, attribute.Line, attribute.Column), token.Line, token.Column);
                else
                    throw Error("expected name or number", attribute);
            }
            else if (token.IsOperator("["))
            {
                Next();
                var keys = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (keys.Count > 0)
                        Expect(TokenKind.Operator, ",");
                    keys.Add(ParseSubscribed());
                }
                Expect(TokenKind.Operator, "]");
                if (keys.Count == 0)
                    throw Error("expected a subscript", token);
                var key = keys.Count == 1 ? keys[0] : new TupleExpr(keys, token.Line, token.Column);
                node = new ItemExpr(node, key, token.Line, token.Column);
            }
            else if (token.IsOperator("("))
                node = new CallExpr(node, ParseCallArguments(), token.Line, token.Column);
            else
                return node;
        }
    }

    Expr ParseSubscribed()
    {
        var start = Current;
        Expr? first = null;
        if (!Current.IsOperator(":"))
        {
            first = ParseExpression();
            if (!Current.IsOperator(":"))
                return first;
        }
        Next();
        Expr? stop = null, step = null;
        if (!Current.IsOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
            stop = ParseExpression();
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
            step = ParseExpression();
        return new SliceExpr(first, stop, step, start.Line, start.Column);
    }

    CallArguments ParseCallArguments()
    {
        var open = Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var keyword = new List<(string, Expr)>();
        Expr? starArgs = null, starKwargs = null;
        bool requireComma = false;
        while (!Current.IsOperator(")"))
        {
            if (requireComma)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOperator(")"))
                    break;
            }
            if (Current.IsOperator("*"))
            {
                if (starArgs is not null || starKwargs is not null)
                    throw Error("invalid syntax for function call expression", open);
                Next();
                starArgs = ParseExpression();
            }
            else if (Current.IsOperator("**"))
            {
                if (starKwargs is not null)
                    throw Error("invalid syntax for function call expression", open);
                Next();
                starKwargs = ParseExpression();
            }
            else if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                if (starKwargs is not null)
                    throw Error("invalid syntax for function call expression", open);
                string key = Next().Text;
                Next();
                keyword.Add((key, ParseExpression()));
            }
            else
            {
                if (starArgs is not null || starKwargs is not null || keyword.Count > 0)
                    throw Error("invalid syntax for function call expression", open);
                positional.Add(ParseExpression());
            }
            requireComma = true;
        }
        Expect(TokenKind.Operator, ")");
        return new CallArguments(positional, keyword, starArgs, starKwargs);
    }

    Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
                node = ParseFilter(node, startInline: false);
            else if (Current.IsName("is"))
                node = ParseTest(node);
            else if (Current.IsOperator("("))
                node = new CallExpr(node, ParseCallArguments(), Current.Line, Current.Column);
            else
                return node;
        }
    }

    Expr ParseFilter(Expr? node, bool startInline)
    {
        while (Current.IsOperator("|") || startInline)
        {
            if (!startInline)
                Next();
            startInline = false;
            var token = Expect(TokenKind.Name);
            string filterName = token.Text;
            while (Current.IsOperator("."))
            {
                Next();
                filterName += "." + Expect(TokenKind.Name).Text;
            }
            if (!Filters.Exists(filterName))
                throw Filters.IsKnownUnsupported(filterName)
                    ? Unsupported($"filter '{filterName}'", token)
                    : Error($"No filter named '{filterName}'.", token);
            var arguments = Current.IsOperator("(") ? ParseCallArguments() : CallArguments.None;
            node = new FilterExpr(node, filterName, arguments, token.Line, token.Column);
        }
        return node!;
    }

    Expr ParseTest(Expr node)
    {
        var isToken = Next();
        bool negated = SkipName("not");
        var token = Expect(TokenKind.Name);
        string testName = token.Text;
        while (Current.IsOperator("."))
        {
            Next();
            testName += "." + Expect(TokenKind.Name).Text;
        }
        if (!TestFunctions.Exists(testName))
            throw Error($"No test named '{testName}'.", token);
        CallArguments arguments;
        if (Current.IsOperator("("))
            arguments = ParseCallArguments();
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                     || Current.IsOperator("(") || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and"))
        {
            if (Current.IsName("is"))
                throw Error("You cannot chain multiple tests with is", Current);
            var argument = ParsePostfix(ParsePrimary());
            arguments = new CallArguments([argument], [], null, null);
        }
        else
            arguments = CallArguments.None;
        Expr test = new TestExpr(node, testName, arguments, isToken.Line, isToken.Column);
        return negated ? new UnaryExpr("not", test, isToken.Line, isToken.Column) : test;
    }
}
