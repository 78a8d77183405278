namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// One piece of text between the pipeline's steps (Hugging Face's NormalizedString without alignments).
/// <paramref name="AtStart"/>: the piece begins at offset 0 of the original text (Metaspace's prepend_scheme "first").
/// </summary>
internal readonly record struct Piece(string Text, bool AtStart);
