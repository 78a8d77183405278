namespace Toolkit.Data.Text.Templates;

/// <summary>Kinds of lexical tokens of a Jinja template.</summary>
internal enum TokenKind
{
    /// <summary>Literal text outside tags.</summary>
    Data,
    /// <summary><c>{{</c></summary>
    VariableBegin,
    /// <summary><c>}}</c></summary>
    VariableEnd,
    /// <summary><c>{%</c></summary>
    BlockBegin,
    /// <summary><c>%}</c></summary>
    BlockEnd,
    /// <summary>An identifier or keyword.</summary>
    Name,
    /// <summary>A string literal (value already unescaped).</summary>
    String,
    /// <summary>An integer literal.</summary>
    Integer,
    /// <summary>A float literal.</summary>
    Float,
    /// <summary>An operator or punctuation.</summary>
    Operator,
    /// <summary>End of the template.</summary>
    End,
}

/// <summary>One token with its 1-based position in the (newline-normalised) source.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Line, int Column, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;

    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;

    /// <summary>jinja2's <c>describe_token</c>: a name or operator as written, other kinds by name.</summary>
    public string Describe() => Kind is TokenKind.Name or TokenKind.Operator ? Text : DescribeKind(Kind);

    public static string DescribeKind(TokenKind kind) => kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.VariableBegin => "begin of print statement",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.BlockBegin => "begin of statement block",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.Data => "template data / text",
        TokenKind.String => "string",
        TokenKind.Integer => "integer",
        TokenKind.Float => "float",
        TokenKind.Name => "name",
        _ => "operator",
    };
}
