using System.IO.Compression;
using System.Reflection;

/// <summary>The .tiktoken vocabularies that the Microsoft.ML.Tokenizers.Data packages embed (deflated).</summary>
namespace Toolkit.Data.Tests.Tokenization;

internal static class TiktokenData
{
    public static readonly string[] Names = ["o200k_base", "cl100k_base"];

    public static TextReader Open(string name)
    {
        string assemblyName = name switch
        {
            "o200k_base" => "Microsoft.ML.Tokenizers.Data.O200kBase",
            "cl100k_base" => "Microsoft.ML.Tokenizers.Data.Cl100kBase",
            _ => throw new ArgumentException($"unknown vocabulary '{name}' (o200k_base or cl100k_base)"),
        };
        var assembly = Assembly.Load(assemblyName);
        string resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".tiktoken.deflate", StringComparison.Ordinal));
        var stream = assembly.GetManifestResourceStream(resource)!;
        return new StreamReader(new DeflateStream(stream, CompressionMode.Decompress));
    }

    public static string[] SpecialTokens(string name) => name == "o200k_base"
        ? ["<|endoftext|>", "<|endofprompt|>"]
        : ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>"];

    public static string Pattern(string name) => name == "o200k_base"
        ? Toolkit.Data.Text.Tokenization.TiktokenConverter.O200kPattern
        : Toolkit.Data.Text.Tokenization.TiktokenConverter.Cl100kPattern;
}
