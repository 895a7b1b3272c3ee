using System.Collections;
using Gopherpack.Master;
using Gopherpack.Manifest;

namespace Gopherpack.Tests.Supervision;

/// <summary>The runtime settings a pinned worker gets by default, and that the user's own values always win.</summary>
public sealed class OneCoreRuntimeDefaultsTests
{
    private static Dictionary<string, string> EnvironmentOf(string envYaml, int? cpu, IDictionary? master = null)
    {
        var manifest = ManifestLoader.Parse($"name: a\ncommand: sh\n{envYaml}", "/tmp/a.yml");
        using var listeners = ListenerSet.Bind([], 1);
        var launcher = new WorkerLauncher(manifest, listeners, 99, master ?? new Hashtable());
        var request = launcher.Build(new WorkerLaunch(1, 0, cpu, 1), "/tmp/n", 1, 2, 0);
        return request.Environment.Select(e => e.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }

    [Fact]
    public void A_pinned_worker_gets_the_larger_gen0_budget() =>
        Assert.Equal("4000000", EnvironmentOf("", cpu: 0)["DOTNET_GCgen0size"]);

    [Fact]
    public void An_unpinned_worker_keeps_the_runtime_defaults() =>
        Assert.False(EnvironmentOf("cpus: none\n", cpu: null).ContainsKey("DOTNET_GCgen0size"));

    [Fact]
    public void The_manifest_env_wins_over_the_default()
    {
        var environment = EnvironmentOf("env: { DOTNET_GCgen0size: \"0\" }\n", cpu: 0);
        Assert.Equal("0", environment["DOTNET_GCgen0size"]);
    }

    [Theory]
    [InlineData("DOTNET_GCgen0size")]
    [InlineData("COMPlus_GCgen0size")]
    public void The_masters_own_environment_wins_over_the_default(string key)
    {
        var environment = EnvironmentOf("", cpu: 0, new Hashtable { [key] = "1000000" });
        Assert.Equal("1000000", environment[key]);
        if (key.StartsWith("COMPlus_")) Assert.False(environment.ContainsKey("DOTNET_GCgen0size"));
    }
}
