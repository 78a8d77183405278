using Toolkit.Data.Text;

namespace Toolkit.Data.Tests.Text;

public class Gpt2TokenizerTests
{
    [Fact]
    public void Encodes_like_gpt2()
    {
        // Reference ids from the original GPT-2 tokenizer (tiktoken "gpt2" / HF GPT2TokenizerFast).
        Assert.Equal([15496, 995], Gpt2Tokenizer.Encode("Hello world"));
        Assert.Equal("Hello world", Gpt2Tokenizer.Decode([15496, 995]));
    }

    [Fact]
    public void Subset_round_trips_text_outside_its_vocabulary()
    {
        var subset = Gpt2SubsetTokenizer.Build(["the cat sat on the mat", "the dog"], 300);
        Assert.Equal(Gpt2Tokenizer.EndOfText, subset.ToGpt2(Gpt2SubsetTokenizer.EndOfText));
        Assert.True(subset.VocabularySize <= 300);
        foreach (string text in new[] { "the cat sat", "Zebra crossings — naïve café", "" })
            Assert.Equal(text, subset.Decode(subset.Encode(text)));
        // Words of the corpus are single tokens; unseen words fall back to bytes.
        Assert.Single(subset.Encode(" cat"));
        Assert.Equal(" Zebra".Length, subset.Encode(" Zebra").Length);
    }

    [Fact]
    public void Subset_saves_and_loads()
    {
        var subset = Gpt2SubsetTokenizer.Build(["a small corpus of words"], 280);
        string path = Path.Combine(Path.GetTempPath(), $"subset-{Guid.NewGuid():N}.json");
        try
        {
            subset.Save(path);
            var loaded = Gpt2SubsetTokenizer.Load(path);
            Assert.Equal(subset.Gpt2Ids, loaded.Gpt2Ids);
            Assert.Equal(subset.Encode("a small word"), loaded.Encode("a small word"));
        }
        finally { File.Delete(path); }
    }
}
