using Toolkit.Data.Text;

namespace Toolkit.Data.Tests.Text;

public class GcideCorpusTests
{
    const string Snippet = """
00-database-short
   The Collaborative International Dictionary of English v.0.48

Arris \Ar"ris\, n. [OF. areste, F. ar[^e]te, fr. L. arista the
   top or beard of an ear of grain, the bone of a fish.] (Arch.)
   The sharp edge or salient angle formed by two surfaces
   meeting each other; -- applied to the edges in moldings. --P.
   Cyc.
   [1913 Webster]

   {Arris fillet}, a triangular piece of wood. --Gwilt.

Arrivance \Ar*riv"ance\, n.
   Arrival. [Obs.] --Shak.
   [1913 Webster]
""";

    [Fact]
    public void Parses_entries_and_strips_markup()
    {
        var entries = GcideCorpus.ReadEntries(new StringReader(Snippet)).ToList();
        Assert.Equal(["Arris", "Arrivance"], entries.Select(e => e.Headword));
        string arris = entries[0].Text;
        Assert.StartsWith("Arris, n. (Arch.) The sharp edge", arris);
        Assert.Contains("Arris fillet, a triangular piece of wood.", arris);
        foreach (string markup in new[] { "\\", "[", "]", "{", "}", "1913", "--Gwilt", "areste" })
            Assert.DoesNotContain(markup, arris);
        Assert.Equal("Arrivance, n. Arrival.", entries[1].Text);
    }

    [Fact]
    public void Accent_codes_become_plain_letters() =>
        Assert.Equal("arriere-ban and AEneas", GcideCorpus.Clean("arri[`e]re-ban and [AE]neas"));

    [Fact]
    public void Reads_the_installed_dictionary()
    {
        Assert.SkipUnless(File.Exists(GcideCorpus.DefaultPath), "dict-gcide is not installed");
        var first = GcideCorpus.ReadEntries().Take(2000).ToList();
        Assert.Equal(2000, first.Count);
        Assert.Contains(first, e => e.Headword == "Abandon" && e.Text.Contains("give up", StringComparison.OrdinalIgnoreCase));
        Assert.All(first, e => Assert.DoesNotContain("[1913 Webster]", e.Text));
    }
}
