using System.CommandLine;
using ExpertFlow.Model;
using Toolkit.Cli;

namespace ExpertFlow.Cli;

/// <summary>The decoding options shared by generate, chat and serve, bound to one <see cref="SamplingRequest"/>.</summary>
internal sealed class SamplingSettings
{
    readonly Option<bool> greedy = new("--greedy") { Description = "Greedy decoding (default unless a sampling option is given or generation_config.json sets do_sample)." };
    readonly Option<double?> temperature = new("--temperature") { Description = "Sampling temperature (> 0; default from generation_config.json)." };
    readonly Option<int?> topK = new("--top-k") { Description = "Sample among the k most likely tokens (0: all)." };
    readonly Option<double?> topP = new("--top-p") { Description = "Nucleus sampling: the smallest set of tokens reaching probability p." };
    readonly Option<double?> repetition = new("--repetition-penalty") { Description = "Penalise tokens already in the sequence (1: off; default from generation_config.json)." };
    readonly Option<int> seed = CommonOptions.Seed();

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { greedy, temperature, topK, topP, repetition, seed }) command.Options.Add(o);
    }

    public SamplingRequest Bind(ParseResult r)
    {
        var request = new SamplingRequest(r.GetValue(greedy), r.GetValue(temperature), r.GetValue(topK), r.GetValue(topP), r.GetValue(repetition), r.GetValue(seed));
        if (request.Greedy && (request.Temperature != null || request.TopK != null || request.TopP != null))
            throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
        if (request.Temperature is <= 0) throw new ArgumentException($"--temperature must be positive (got {request.Temperature}).");
        if (request.TopK is < 0) throw new ArgumentException($"--top-k must be 0 (off) or positive (got {request.TopK}).");
        if (request.TopP is <= 0 or > 1) throw new ArgumentException($"--top-p must be in (0, 1] (got {request.TopP}).");
        if (request.RepetitionPenalty is <= 0) throw new ArgumentException($"--repetition-penalty must be positive (got {request.RepetitionPenalty}).");
        return request;
    }
}
