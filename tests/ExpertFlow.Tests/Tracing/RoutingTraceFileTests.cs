using ExpertFlow.Tracing;

namespace ExpertFlow.Tests.Tracing;

public class RoutingTraceFileTests
{
    static List<TokenRoute> RandomRoutes(RoutingTraceHeader h, int sequences, int seed)
    {
        var random = new Random(seed);
        var routes = new List<TokenRoute>();
        for (int s = 0; s < sequences; s++)
            for (int p = 0; p < 1 + random.Next(12); p++)
                routes.Add(new TokenRoute(s * 7, p, random.Next(50000),
                    Enumerable.Range(0, h.ExpertsPerToken).Select(_ => (short)random.Next(h.NumExperts)).ToArray()));
        return routes;
    }

    [Theory]
    [InlineData(4, 8, 2)]
    [InlineData(3, 300, 4)] // two-byte expert ids
    public void Round_trips(int layers, int experts, int topK)
    {
        var header = new RoutingTraceHeader(layers, experts, topK);
        var routes = RandomRoutes(header, 5, layers * experts);
        string path = Path.Combine(Path.GetTempPath(), $"trace-{Guid.NewGuid():N}.eftrace");
        try
        {
            RoutingTraceFile.Write(path, header, routes);
            Assert.Equal(RoutingTraceFile.HeaderSize + routes.Count * RoutingTraceFile.RecordSize(header), new FileInfo(path).Length);
            var (readHeader, readRoutes) = RoutingTraceFile.Read(path);
            Assert.Equal(header, readHeader);
            Assert.Equal(routes.Count, readRoutes.Count);
            for (int i = 0; i < routes.Count; i++)
            {
                Assert.Equal((routes[i].SequenceId, routes[i].Position, routes[i].TokenId), (readRoutes[i].SequenceId, readRoutes[i].Position, readRoutes[i].TokenId));
                Assert.Equal(routes[i].Experts, readRoutes[i].Experts);
            }
            var sequences = RoutingTraceFile.ToSequences(readRoutes);
            Assert.Equal(5, sequences.Count);
            Assert.Equal(routes.Count, sequences.Sum(s => s.Length));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Record_size_is_compact() => Assert.Equal(20, RoutingTraceFile.RecordSize(new RoutingTraceHeader(4, 8, 2)));

    [Fact]
    public void Rejects_truncated_and_foreign_files()
    {
        var header = new RoutingTraceHeader(2, 4, 1);
        var stream = new MemoryStream();
        using (var writer = new RoutingTraceWriter(stream, header)) writer.Write(new TokenRoute(0, 0, 1, [1, 2]));
        var bytes = stream.ToArray();
        var truncated = new RoutingTraceReader(new MemoryStream(bytes[..^1]));
        Assert.Throws<InvalidDataException>(() => truncated.ReadAll().ToList());
        var foreign = bytes.ToArray();
        foreign[0] = (byte)'X';
        Assert.Throws<InvalidDataException>(() => new RoutingTraceReader(new MemoryStream(foreign)));
        Assert.Throws<ArgumentException>(() => new RoutingTraceWriter(new MemoryStream(), header).Write(new TokenRoute(0, 0, 1, [1, 9])));
    }

    [Fact]
    public void Missing_position_is_an_error() =>
        Assert.Throws<InvalidDataException>(() => RoutingTraceFile.ToSequences([new TokenRoute(1, 0, 5, [0]), new TokenRoute(1, 2, 5, [0])]));
}
