using System.Text.Json;
using System.Text.RegularExpressions;
using Gopherpack.Metrics;
using Gopherpack.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Tests.Observability;

/// <summary>docs/monitoring: the Grafana dashboard and the Prometheus alert rules parse, and use only metrics the master exports.</summary>
public sealed partial class MonitoringDocsTests
{
    [GeneratedRegex(@"\bgopherpack_[a-z_]+")] private static partial Regex MetricName();

    private static string Doc(string name) => File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "monitoring", name));

    private static void AllExported(IEnumerable<string> expressions)
    {
        var used = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();
        Assert.NotEmpty(used);
        foreach (var name in used)
        {
            var family = Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(PrometheusText.Names.Contains(name) || PrometheusText.Names.Contains(family), $"{name} is not exported by the master");
        }
    }

    [Fact]
    public void The_dashboard_is_json_whose_queries_use_exported_metrics()
    {
        var dashboard = JsonDocument.Parse(Doc("gopherpack-dashboard.json")).RootElement;
        var panels = dashboard.GetProperty("panels").EnumerateArray().ToList();
        Assert.True(panels.Count >= 8);
        var expressions = panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        AllExported(expressions);
        Assert.Contains(expressions, e => e.StartsWith("max by (pack, listener) (gopherpack_listener_queue_length"));
    }

    [Fact]
    public void The_alert_rules_are_yaml_with_the_three_alerts_on_exported_metrics()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(Doc("gopherpack-alerts.yml")));
        var rules = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"])[0])["rules"])
            .Cast<YamlMappingNode>().ToDictionary(r => r["alert"].ToString(), r => r);
        AllExported(rules.Values.Select(r => r["expr"].ToString()));
        Assert.Contains("state=\"failed\"", rules["GopherpackSlotFailed"]["expr"].ToString());
        // Reuseport listeners export one queue per slot: the fullest one counts, not a sum.
        Assert.Equal("max by (pack, listener) (gopherpack_listener_queue_length / gopherpack_listener_queue_limit) > 0.5", rules["GopherpackAcceptQueueOverHalf"]["expr"].ToString());
        Assert.Equal("1m", rules["GopherpackAcceptQueueOverHalf"]["for"].ToString());
        Assert.Contains("gopherpack_reloads_total{result=\"failed\"}", rules["GopherpackReloadFailed"]["expr"].ToString());
        Assert.Contains("gopherpack_upgrades_total{result=\"failed\"}", rules["GopherpackUpgradeFailed"]["expr"].ToString());
    }
}
