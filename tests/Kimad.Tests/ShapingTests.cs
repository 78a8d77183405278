using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kimad.Shaping;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>Real TCP through a tc-shaped network namespace (skipped where namespaces cannot be made: not root, no iproute2).</summary>
[Collection("processes")]
public class ShapingTests
{
    internal static void SkipWithoutNamespaces()
    {
        string? why = NamespaceNetwork.Unavailable();
        Assert.SkipWhen(why is not null, $"network namespaces unavailable: {why}");
    }

    /// <summary>Echo server on the host: reads a length-prefixed block and sends as many bytes back.</summary>
    static async Task Echo(TcpListener listener, CancellationToken ct)
    {
        using var client = await listener.AcceptTcpClientAsync(ct);
        var stream = client.GetStream();
        var header = new byte[4];
        var buffer = new byte[1 << 16];
        while (true)
        {
            try { await stream.ReadExactlyAsync(header, ct); } catch (EndOfStreamException) { return; }
            int n = BitConverter.ToInt32(header);
            for (int got = 0; got < n;) got += await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, n - got)), ct);
            for (int sent = 0; sent < n; sent += buffer.Length) await stream.WriteAsync(buffer.AsMemory(0, Math.Min(buffer.Length, n - sent)), ct);
        }
    }

    static async Task<double> RoundTrip(NetworkStream stream, int bytes, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var block = new byte[bytes];
        await stream.WriteAsync(BitConverter.GetBytes(bytes), ct);
        await stream.WriteAsync(block, ct);
        await stream.ReadExactlyAsync(block, ct);
        return clock.Elapsed.TotalSeconds;
    }

    [Fact]
    public async Task RealTcpFollowsDownwardAndUpwardStepsWithoutStalling()
    {
        SkipWithoutNamespaces();
        var ct = TestContext.Current.CancellationToken;
        using var network = NamespaceNetwork.Create(1, 20, NullLogger.Instance);
        var link = network.Links[0];
        var listener = new TcpListener(IPAddress.Parse(link.HostAddress), 0);
        listener.Start();
        try
        {
            var echo = Echo(listener, ct);
            using var sockets = new NamespaceSockets(link.Namespace);
            using var socket = await sockets.ConnectAsync(listener.LocalEndpoint, ct);
            using var stream = new NetworkStream(socket);
            const int bytes = 82_000;
            await RoundTrip(stream, bytes, ct);   // warm-up: connection and congestion window
            // Both directions are shaped: a round trip moves the block twice at the rate.
            foreach (double mbps in new[] { 20.0, 2, 20, 0.5, 10, 1 })
            {
                network.SetRate(0, mbps);
                double expected = 2 * bytes * 8 / (mbps * 1e6);
                for (int i = 0; i < 2; i++)
                {
                    double seconds = await RoundTrip(stream, bytes, ct);
                    // Never a stall (the old parameters took 13 s for this at 2 Mbit/s), never much faster than the rate
                    // (the bucket lets a few packets through at line rate).
                    Assert.True(seconds < 1.5 * expected + 0.1, $"{mbps} Mbit/s: {bytes} B each way took {seconds:F3} s, expected about {expected:F3} s");
                    double fastest = 2 * (bytes - NamespaceNetwork.BurstBytes(mbps)) * 8 / (mbps * 1e6);
                    Assert.True(seconds > 0.9 * fastest, $"{mbps} Mbit/s: {bytes} B each way took {seconds:F3} s, faster than the rate and bucket allow ({fastest:F3} s): not shaped");
                }
            }
            // A step while a transfer is under way: 400 kB each way, the rate drops from 20 to 2 Mbit/s after 50 ms.
            network.SetRate(0, 20);
            var transfer = RoundTrip(stream, 400_000, ct);
            await Task.Delay(50, ct);
            network.SetRate(0, 2);
            double during = await transfer;
            Assert.True(during < 2 * 400_000 * 8 / 2e6 * 1.5, $"a transfer across a 20 -> 2 Mbit/s step took {during:F2} s");
            socket.Shutdown(SocketShutdown.Both);
            await echo.WaitAsync(TimeSpan.FromSeconds(5), ct);
        }
        finally { listener.Stop(); }
    }

    [Fact]
    public void BucketHoldsFourPacketsAndTenMillisecondsAtTheRate()
    {
        Assert.Equal(4 * NamespaceNetwork.MaxPacketBytes, NamespaceNetwork.BurstBytes(0.3));
        Assert.Equal(125_000, NamespaceNetwork.BurstBytes(100));   // 10 ms at 100 Mbit/s
        Assert.True(NamespaceNetwork.LimitBytes(2) >= NamespaceNetwork.BurstBytes(2) + 16 * NamespaceNetwork.MaxPacketBytes);
    }
}
