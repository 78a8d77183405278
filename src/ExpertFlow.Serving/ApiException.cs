using System.Text.Json.Nodes;

namespace ExpertFlow.Serving;

/// <summary>A request the server refuses, as OpenAI reports it: an HTTP status and an error object.</summary>
public sealed class ApiException(int status, string message, string type = ApiException.InvalidRequest, string? code = null, string? param = null) : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string NotFound = "not_found_error";
    public const string RateLimit = "rate_limit_error";
    public const string Server = "server_error";
    public const string Unavailable = "service_unavailable";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;

    /// <summary>The body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
    public JsonObject Body() => Body(Message, Type, Param, Code);

    public static JsonObject Body(string message, string type, string? param = null, string? code = null) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
    };

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, InvalidRequest, code, param);
}
