using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Kimad.Transport;

/// <summary>Shared-token authentication: every call must carry "authorization: Bearer TOKEN". Others are refused and logged.</summary>
public sealed class TokenAuthInterceptor(string token, ILogger log) : Interceptor
{
    public const string Header = "authorization";
    readonly byte[] expected = Encoding.UTF8.GetBytes("Bearer " + token);

    void Check(ServerCallContext context)
    {
        string? got = context.RequestHeaders.GetValue(Header);
        if (got is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(got), expected)) return;
        log.LogWarning("rejected unauthenticated call {Method} from {Peer}: {Why}", context.Method, context.Peer, got is null ? "no token" : "wrong token");
        throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or wrong shared token (pass --token)"));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(request, context); }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(requestStream, context); }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(request, responseStream, context); }
}
