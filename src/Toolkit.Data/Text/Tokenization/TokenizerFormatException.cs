namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// A tokenizer file (tokenizer.json, tokenizer_config.json, chat_template.jinja, a .tiktoken vocabulary) that cannot be
/// read: not JSON, a field of the wrong type or missing, an id out of range, an unknown block kind. The message names
/// the file and the place, e.g. <c>tokenizer.json: model.merges[12] is not a pair</c>. It derives from
/// <see cref="FormatException"/> (<see cref="InvalidDataException"/> is sealed), which command-line tools report as a
/// user error.
/// </summary>
public class TokenizerFormatException : FormatException
{
    /// <summary>Creates the exception with a message that names the file and what is wrong.</summary>
    public TokenizerFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public TokenizerFormatException(string message, Exception inner) : base(message, inner) { }
}
