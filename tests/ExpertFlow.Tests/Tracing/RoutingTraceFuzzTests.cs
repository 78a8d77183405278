using CsCheck;
using ExpertFlow.Tracing;
using Fuzzing;

namespace ExpertFlow.Tests.Tracing;

/// <summary>
/// Routing traces damaged 1,000 ways (header fields, record bytes, truncations, absurd counts): reading returns records
/// whose expert ids lie inside the header's expert count, or throws InvalidDataException naming the file.
/// </summary>
public class RoutingTraceFuzzTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(4, 8, 2)]
    [InlineData(3, 300, 4)] // two-byte expert ids
    public void Damaged_trace_reads_or_names_the_file(int layers, int experts, int topK)
    {
        var header = new RoutingTraceHeader(layers, experts, topK);
        var random = new Random(layers * experts);
        var routes = new List<TokenRoute>();
        for (int s = 0; s < 3; s++)
            for (int p = 0; p < 5; p++)
                routes.Add(new TokenRoute(s, p, random.Next(1000), Enumerable.Range(0, header.ExpertsPerToken).Select(_ => (short)random.Next(experts)).ToArray()));
        using var temp = new TempFolder("trace-fuzz-");
        string path = temp.File("heldout.eftrace");
        RoutingTraceFile.Write(path, header, routes);
        byte[] original = File.ReadAllBytes(path);
        int record = RoutingTraceFile.RecordSize(header);
        int[] hotSpots = [0, 4, 6, 8, 10, 12, .. Enumerable.Range(0, routes.Count).Select(i => RoutingTraceFile.HeaderSize + i * record)];

        var property = new LoaderProperty("heldout.eftrace", typeof(InvalidDataException));
        ByteMutations.Of(original, hotSpots).Sample(mutant =>
        {
            File.WriteAllBytes(path, mutant.Bytes);
            property.Check(mutant, () =>
            {
                var (h, read) = RoutingTraceFile.Read(path);
                Assert.All(read, r =>
                {
                    Assert.Equal(h.ExpertsPerToken, r.Experts.Length);
                    Assert.All(r.Experts, e => Assert.InRange(e, 0, h.NumExperts - 1));
                });
                foreach (var s in RoutingTraceFile.ToSequences(read, path)) Assert.Equal(s.TokenIds.Length, s.Experts.Length);
            });
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }
}
