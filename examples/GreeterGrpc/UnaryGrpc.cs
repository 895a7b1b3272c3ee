using System.Buffers.Binary;
using Google.Protobuf;

namespace GreeterGrpc;

/// <summary>
/// Serves unary gRPC methods over Kestrel HTTP/2 without Grpc.AspNetCore: the gRPC wire format is a
/// 5-byte prefix (compressed flag, big-endian length) before each protobuf message, and the status
/// travels in the trailers.
/// </summary>
public static class UnaryGrpc
{
    private const int MaxMessageBytes = 4 * 1024 * 1024;

    public static void MapUnary<TRequest, TReply>(this IEndpointRouteBuilder app, string service, string method,
        MessageParser<TRequest> parser, Func<TRequest, HttpContext, Task<TReply>> handler)
        where TRequest : IMessage<TRequest> where TReply : IMessage<TReply>
    {
        app.MapPost($"/{service}/{method}", async context =>
        {
            context.Response.ContentType = "application/grpc";
            if (!context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) ?? true)
            {
                context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
                return;
            }
            var request = await ReadMessage(context.Request.Body, parser, context.RequestAborted);
            if (request is null)
            {
                Trailers(context, 13, "malformed or compressed request message");
                return;
            }
            var reply = await handler(request, context);
            await WriteMessage(context.Response.Body, reply, context.RequestAborted);
            Trailers(context, 0, null);
        });
        app.MapPost($"/{service}/{{unknown}}", context =>
        {
            context.Response.ContentType = "application/grpc";
            Trailers(context, 12, $"method {context.Request.RouteValues["unknown"]} is not implemented");
            return Task.CompletedTask;
        });
    }

    private static async Task<T?> ReadMessage<T>(Stream body, MessageParser<T> parser, CancellationToken cancel) where T : IMessage<T>
    {
        var prefix = new byte[5];
        await body.ReadExactlyAsync(prefix, cancel);
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix.AsSpan(1));
        if (prefix[0] != 0 || length > MaxMessageBytes) return default;
        var message = new byte[length];
        await body.ReadExactlyAsync(message, cancel);
        return parser.ParseFrom(message);
    }

    private static async Task WriteMessage(Stream body, IMessage message, CancellationToken cancel)
    {
        var bytes = message.ToByteArray();
        var prefix = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(prefix.AsSpan(1), (uint)bytes.Length);
        await body.WriteAsync(prefix, cancel);
        await body.WriteAsync(bytes, cancel);
    }

    private static void Trailers(HttpContext context, int status, string? message)
    {
        context.Response.AppendTrailer("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message is not null) context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
    }
}
