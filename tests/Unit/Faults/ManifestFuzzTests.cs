using System.Diagnostics;
using System.Text;
using Gopherpack.Manifest;
using Gopherpack.Tests.Manifest;
using Xunit.Abstractions;

namespace Gopherpack.Tests.Faults;

public sealed class ManifestFuzzTests(ITestOutputHelper output)
{
    private const string Seed = """
        name: fuzz
        command: sh
        args: [server.dll, "--port", 8080]
        env: { MODE: prod }
        workers: 2
        cpus: [0, "1-1"]
        listeners:
          - name: http
            address: tcp://127.0.0.1:8080
            mode: reuseport
            protocols: http1
            maxConnections: 10
          - name: sock
            address: unix:///tmp/fuzz.sock
            fileMode: "0660"
        ready: { mode: notify, timeout: 30s, delay: 1s }
        stop: { signal: SIGTERM, timeout: 30s }
        restart: { backoff: { initial: 100ms, max: 30s }, limit: { restarts: 10, window: 60s } }
        reload: { strategy: surge }
        watchdog: { timeout: 0s }
        logs: { workers: inherit }
        """;

    private static readonly string[] Fragments =
        ["\n", ":", " ", "- ", "[", "]", "{", "}", "\"", "'", "&a", "*a", "!!str ", "|", ">", "#", "\t", "---\n", "...", "%YAML 1.2\n",
         "null", "~", "0x1F", "-1", "99999999999999999999", "1e9", "auto", "none", "tcp://", "unix://", "\\u0000", "\0", "\u00e9", "\ud83d\ude00", "<<: *a"];

    [Fact]
    public async Task Thousands_of_mutated_manifests_give_only_validation_errors_and_never_hang()
    {
        var random = new Random(7);
        var seeds = InvalidManifestCorpus.FileNames().Select(f => File.ReadAllText(Path.Combine(InvalidManifestCorpus.Folder, f))).Append(Seed).ToList();
        var slowest = TimeSpan.Zero;
        var accepted = 0;
        for (var i = 0; i < Soak.FuzzCases; i++)
        {
            var text = Mutate(seeds[random.Next(seeds.Count)], random);
            var clock = Stopwatch.StartNew();
            var parse = Task.Run(() =>
            {
                try { ManifestLoader.Parse(text, "/tmp/fuzz/app.yml"); return true; }
                catch (ManifestException e) { Assert.NotEmpty(e.Errors); return false; }
            });
            Assert.True(await Task.WhenAny(parse, Task.Delay(TimeSpan.FromSeconds(5))) == parse, $"case {i} hung: {Escape(text)}");
            if (parse.IsFaulted) Assert.Fail($"case {i} threw {parse.Exception!.InnerException}\ninput: {Escape(text)}");
            if (await parse) accepted++;
            if (clock.Elapsed > slowest) slowest = clock.Elapsed;
        }
        output.WriteLine($"{Soak.FuzzCases} mutated manifests: {accepted} accepted, {Soak.FuzzCases - accepted} rejected with errors, slowest {slowest.TotalMilliseconds:0} ms");
    }

    [Theory]
    [InlineData("a: &x [*x]")]
    [InlineData("a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")]
    [InlineData("name: x\ncommand: sh\nlisteners:\n  - &l {name: a, address: 'tcp://127.0.0.1:0'}\n  - *l\n")]
    [InlineData("\ufeffname: x\ncommand: sh")]
    [InlineData("? [a, b]\n: c")]
    public async Task Hostile_documents_are_rejected_cleanly(string text)
    {
        var parse = Task.Run(() => ManifestLoader.Parse(text, "/tmp/fuzz/app.yml"));
        Assert.True(await Task.WhenAny(parse, Task.Delay(TimeSpan.FromSeconds(5))) == parse, "the loader hung");
        if (parse.IsFaulted) Assert.IsType<ManifestException>(parse.Exception!.InnerException);
    }

    private static string Mutate(string text, Random random)
    {
        var builder = new StringBuilder(text);
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits && builder.Length > 0; e++)
        {
            var at = random.Next(builder.Length);
            switch (random.Next(6))
            {
                case 0: builder.Remove(at, Math.Min(random.Next(1, 12), builder.Length - at)); break;
                case 1: builder.Insert(at, Fragments[random.Next(Fragments.Length)]); break;
                case 2: builder[at] = (char)random.Next(0, 0x250); break;
                case 3: builder.Length = at; break;
                case 4:
                    var from = random.Next(builder.Length);
                    var length = Math.Min(random.Next(1, 80), builder.Length - from);
                    builder.Insert(at, builder.ToString(from, length));
                    break;
                default: builder.Insert(at, new string(' ', random.Next(1, 9))); break;
            }
        }
        return builder.ToString();
    }

    private static string Escape(string text) => text.Replace("\n", "\\n").Replace("\0", "\\0");
}
