using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kimad.Shaping;

/// <summary>
/// TCP connections that leave from inside a named network namespace (<c>ip netns add NAME</c>) while the rest of the
/// process stays where it is. A dedicated thread enters the namespace once with setns(2); sockets are created on that
/// thread and keep the namespace for their lifetime, so connecting, reading and writing can happen on any thread.
/// Plug <see cref="ConnectAsync(SocketsHttpConnectionContext, CancellationToken)"/> into <see cref="SocketsHttpHandler.ConnectCallback"/> to route a gRPC channel
/// through a shaped link. Linux only; needs CAP_SYS_ADMIN (root).
/// </summary>
public sealed partial class NamespaceSockets : IDisposable
{
    const int CloneNewNet = 0x40000000;
    readonly BlockingCollection<(AddressFamily Family, TaskCompletionSource<Socket> Result)> requests = new();
    readonly Thread thread;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    /// <summary>Enters <c>/var/run/netns/<paramref name="networkNamespace"/></c> on a new thread (throws when that fails).</summary>
    public NamespaceSockets(string networkNamespace)
    {
        Namespace = networkNamespace;
        string path = Path.Combine("/var/run/netns", networkNamespace);
        if (!File.Exists(path)) throw new IOException($"network namespace '{networkNamespace}' does not exist ({path} missing)");
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thread = new Thread(() => Loop(path, entered)) { IsBackground = true, Name = "netns " + networkNamespace };
        thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public string Namespace { get; }

    void Loop(string path, TaskCompletionSource entered)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                throw new IOException($"cannot enter network namespace '{Namespace}' (setns failed, errno {Marshal.GetLastPInvokeError()}; root needed)");
            entered.SetResult();
        }
        catch (Exception e)
        {
            entered.SetException(e);
            return;
        }
        foreach (var (family, result) in requests.GetConsumingEnumerable())
        {
            try { result.SetResult(new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }); }
            catch (Exception e) { result.SetException(e); }
        }
    }

    /// <summary>A new TCP socket that belongs to the namespace.</summary>
    public Task<Socket> CreateTcpSocketAsync(AddressFamily family = AddressFamily.InterNetwork)
    {
        var result = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        requests.Add((family, result));
        return result.Task;
    }

    /// <summary>Connects to <paramref name="endPoint"/> from inside the namespace.</summary>
    public async Task<Socket> ConnectAsync(EndPoint endPoint, CancellationToken ct)
    {
        var family = endPoint is IPEndPoint ip ? ip.AddressFamily : AddressFamily.InterNetwork;
        var socket = await CreateTcpSocketAsync(family).ConfigureAwait(false);
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A <see cref="SocketsHttpHandler.ConnectCallback"/> that connects from inside the namespace.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        EndPoint target = IPAddress.TryParse(context.DnsEndPoint.Host, out var address)
            ? new IPEndPoint(address, context.DnsEndPoint.Port) : context.DnsEndPoint;
        return new NetworkStream(await ConnectAsync(target, ct).ConfigureAwait(false), ownsSocket: true);
    }

    public void Dispose()
    {
        requests.CompleteAdding();
        thread.Join(TimeSpan.FromSeconds(2));
    }
}
