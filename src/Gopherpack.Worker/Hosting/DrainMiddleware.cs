using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Gopherpack.Worker.Hosting;

/// <summary>First in the pipeline: marks connections busy while a request runs, and asks HTTP/1 clients to close once draining.</summary>
internal sealed class DrainStartupFilter(DrainCoordinator drain) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            var connection = drain.Find(context.Connection.Id);
            if (connection is null)
            {
                await nextMiddleware(context);
                return;
            }
            connection.IsHttp2 = HttpProtocol.IsHttp2(context.Request.Protocol) || HttpProtocol.IsHttp3(context.Request.Protocol);
            if (!connection.IsHttp2)
            {
                // Decided when the response starts, so a request already running when the drain begins gets it too.
                context.Response.OnStarting(() =>
                {
                    if (drain.IsDraining) context.Response.Headers.Connection = "close";
                    return Task.CompletedTask;
                });
            }
            connection.RequestStarted();
            try
            {
                await nextMiddleware(context);
            }
            finally
            {
                connection.RequestEnded();
            }
        });
        next(app);
    };
}
