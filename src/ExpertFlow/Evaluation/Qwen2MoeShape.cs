using ExpertFlow.Model;
using ExpertFlow.Offloading;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>Shape of a Qwen2-MoE (Qwen1.5-MoE) model.</summary>
public sealed record Qwen2MoeShape(int Layers, int Hidden, int Heads, int KvHeads, int Experts, int TopK, int MoeIntermediate,
    int SharedIntermediate, int Vocab, int MaxPositions = 8192)
{
    /// <summary>Qwen1.5-MoE-A2.7B: 24 layers, hidden 2048, 60 experts of 1408 (top-4), shared expert 5632, vocab 151936 (14.3B parameters).</summary>
    public static Qwen2MoeShape A27B { get; } = new(24, 2048, 16, 16, 60, 4, 1408, 5632, 151936);
    /// <summary>A tiny model of the same family (tests, CPU demos).</summary>
    public static Qwen2MoeShape Tiny { get; } = new(4, 64, 4, 2, 16, 4, 32, 96, 512, 512);

    public static Qwen2MoeShape Named(string name) => name.ToLowerInvariant() switch
    {
        "qwen1.5-moe-a2.7b" or "a2.7b" => A27B,
        "tiny" => Tiny,
        _ => throw new ArgumentException($"synthetic model shape '{name}' is unknown; use qwen1.5-moe-a2.7b or tiny."),
    };
}
