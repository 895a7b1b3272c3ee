using System.Diagnostics;
using System.Text.Json;

namespace Gopherpack.Tests.Support;

/// <summary>
/// Metrics as a real Prometheus client library reads them: Debian's python3-prometheus-client parses a scrape
/// (the text format 0.0.4, or OpenMetrics with its stricter parser) or text given on stdin.
/// </summary>
public sealed class PrometheusScrape
{
    private const string Script = """
        import json, sys, urllib.request
        from prometheus_client.parser import text_string_to_metric_families as text_parser
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_parser
        source, mode = sys.argv[1], sys.argv[2]
        if source == '-':
            body, content_type = sys.stdin.read(), ''
        else:
            accept = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' if mode == 'openmetrics' else 'text/plain;version=0.0.4'
            with urllib.request.urlopen(urllib.request.Request(source, headers={'Accept': accept}), timeout=10) as response:
                body, content_type = response.read().decode('utf-8'), response.headers.get('Content-Type', '')
        families = list((openmetrics_parser if mode == 'openmetrics' else text_parser)(body))
        print(json.dumps({
            'contentType': content_type,
            'families': [[f.name, f.type] for f in families],
            'samples': [[s.name, s.labels, s.value] for f in families for s in f.samples],
        }))
        """;

    public required string ContentType { get; init; }
    public required IReadOnlyList<(string Name, string Type)> Families { get; init; }
    public required IReadOnlyList<(string Name, IReadOnlyDictionary<string, string> Labels, double Value)> Samples { get; init; }

    /// <summary>The one sample of <paramref name="name"/> whose labels include <paramref name="labels"/> ("k=v").</summary>
    public double Value(string name, params string[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Split('=')[0]) == l.Split('=', 2)[1])).ToList();
        Assert.True(matches.Count == 1, $"expected one sample {name}{{{string.Join(',', labels)}}}, found {matches.Count}");
        return matches[0].Value;
    }

    public static Task<PrometheusScrape> FromUrlAsync(string url, bool openMetrics = false) => RunAsync(url, openMetrics, null);

    public static Task<PrometheusScrape> FromTextAsync(string text) => RunAsync("-", false, text);

    private static async Task<PrometheusScrape> RunAsync(string source, bool openMetrics, string? stdin)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in new[] { "-c", Script, source, openMetrics ? "openmetrics" : "text" }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"the prometheus_client parser did not finish within 60 s ({source})");
        }
        Assert.True(process.ExitCode == 0, $"prometheus_client could not read {source}: {await stderr}");
        var json = JsonDocument.Parse(await stdout).RootElement;
        return new PrometheusScrape
        {
            ContentType = json.GetProperty("contentType").GetString()!,
            Families = json.GetProperty("families").EnumerateArray().Select(f => (f[0].GetString()!, f[1].GetString()!)).ToList(),
            Samples = json.GetProperty("samples").EnumerateArray().Select(s => (s[0].GetString()!,
                (IReadOnlyDictionary<string, string>)s[1].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), s[2].GetDouble())).ToList(),
        };
    }
}
