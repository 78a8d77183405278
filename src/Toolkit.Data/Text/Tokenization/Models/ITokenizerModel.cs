namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>A tokenizer.json "model" block: turns one pre-tokenized piece into token ids.</summary>
internal interface ITokenizerModel
{
    void Tokenize(string piece, List<int> ids);
    int? TokenToId(string token);
    string? IdToToken(int id);
    /// <summary>Number of entries in the model's vocabulary (Hugging Face's get_vocab_size without added tokens).</summary>
    int VocabSize { get; }
    /// <summary>One more than the largest id the model can produce.</summary>
    int IdLimit { get; }
}
