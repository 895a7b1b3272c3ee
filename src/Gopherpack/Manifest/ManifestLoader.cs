using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Manifest;

/// <summary>Loads and validates a pack manifest, reporting every problem at once with file, line and column.</summary>
public static partial class ManifestLoader
{
    private static readonly string[] TopKeys =
        ["name", "command", "args", "workingDirectory", "env", "workers", "cpus", "listeners", "limits", "ready", "stop", "restart", "reload", "watchdog", "logs", "user", "group", "metrics"];
    private static readonly string[] ListenerKeys = ["name", "address", "mode", "backlog", "protocols", "maxConnections", "tls", "fileMode"];
    private const int MaxManifestBytes = 1 << 20;

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")] private static partial Regex PackName();

    /// <summary>Whether <paramref name="name"/> is a valid pack name (the manifest's <c>name:</c> rule).</summary>
    public static bool IsValidPackName(string name) => PackName().IsMatch(name);

    /// <summary>The pack name rule in words, for the messages that refuse a name.</summary>
    public const string PackNameRule = "lowercase letters, digits and '-', starting with a letter or digit";

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")] private static partial Regex ListenerName();
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")] private static partial Regex EnvName();
    [GeneratedRegex("^0?[0-7]{3}$")] private static partial Regex OctalMode();

    /// <exception cref="ManifestException">The file is missing, unreadable or invalid.</exception>
    public const string NotFound = "manifest file not found";

    /// <summary>Reads at most the manifest size limit, so a device or FIFO given as a manifest cannot hang or flood us.</summary>
    private static string ReadBounded(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.None);
        var buffer = new byte[MaxManifestBytes + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0) total += read;
        if (total > MaxManifestBytes) throw Single(path, $"manifest is larger than {MaxManifestBytes / 1024} KiB");
        return new System.Text.UTF8Encoding(false).GetString(buffer, 0, total).TrimStart('\uFEFF');
    }

    /// <param name="plainFileOnly">
    /// Refuse a FIFO, device or socket: a master re-reads its manifest on every reload, and a read that waits on a
    /// pipe would hold a reload request until someone writes, long after its client gave up. Only <c>validate</c> reads a stream.
    /// </param>
    public static PackManifest Load(string path, bool plainFileOnly = true)
    {
        var fullPath = Path.GetFullPath(path);
        string text;
        try
        {
            var type = Linux.FileType.TypeOf(fullPath);
            if (type == Linux.FileType.IfDir) throw Single(fullPath, "is a directory, not a manifest file");
            if (plainFileOnly && type is not (null or Linux.FileType.IfReg))
                throw Single(fullPath, "is not a regular file (a FIFO, device or socket); a pack's manifest must be a file the master can read again at each reload");
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > MaxManifestBytes)
                throw Single(fullPath, $"manifest is larger than {MaxManifestBytes / 1024} KiB");
            text = ReadBounded(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Single(fullPath, e is FileNotFoundException or DirectoryNotFoundException ? NotFound : $"cannot read manifest: {e.Message}");
        }
        return Parse(text, fullPath);
    }

    /// <summary>Validates manifest text as if it were read from <paramref name="path"/> (used for relative paths and messages).</summary>
    public static PackManifest Parse(string text, string path)
    {
        var fullPath = Path.GetFullPath(path);
        var root = ParseYaml(text, fullPath);
        var reader = new YamlNodeReader(fullPath);
        var manifest = new ManifestBuilder(reader, fullPath, root).Build();
        if (reader.Errors.Count > 0 || manifest is null) throw new ManifestException(reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        return manifest;
    }

    private static YamlNode ParseYaml(string text, string file)
    {
        try
        {
            var stream = new YamlStream();
            var parser = new TrackingParser(new Parser(new StringReader(text)), file);
            try
            {
                stream.Load(parser);
            }
            catch (Exception e) when (e is not YamlException and not ManifestException and not OutOfMemoryException)
            {
                // YamlDotNet fails with InvalidOperationException or ArgumentException, without a position,
                // on some malformed input (an unterminated [list, a control character in a key).
                throw new ManifestException([new ManifestError(file, (int)parser.LastGood.Line, (int)parser.LastGood.Column,
                    $"YAML syntax error after this point: {e.Message} (an unclosed bracket or quote, or a control character?)")]);
            }
            if (stream.Documents.Count == 0) throw Single(file, "manifest is empty");
            if (stream.Documents.Count > 1) throw Single(file, "manifest must hold one YAML document", (int)stream.Documents[1].RootNode.Start.Line);
            var rootNode = stream.Documents[0].RootNode;
            if (HasAlias(rootNode)) throw Single(file, AnchorsUnsupported, (int)rootNode.Start.Line);
            return rootNode;
        }
        catch (YamlException e)
        {
            var message = (e.InnerException?.Message ?? e.Message).Replace(Environment.NewLine, " ");
            throw new ManifestException([new ManifestError(file, (int)Math.Max(1, e.Start.Line), (int)Math.Max(1, e.Start.Column), "YAML syntax error: " + StripPosition(message))]);
        }
    }

    private const string AnchorsUnsupported = "YAML anchors and aliases are not supported in manifests";

    /// <summary>How deeply lists and mappings may nest; a manifest needs 4. YAML nested thousands deep would overflow the stack of the recursive node builder (and kill a master reloading it).</summary>
    public const int MaxNesting = 32;

    /// <summary>
    /// Remembers where the last well-formed YAML event ended, to place errors the scanner reports without a position,
    /// and refuses nesting beyond <see cref="MaxNesting"/> before the node builder recurses into it.
    /// </summary>
    private sealed class TrackingParser(IParser inner, string file) : IParser
    {
        private int _depth;
        public Mark LastGood { get; private set; } = new(0, 1, 1);
        public YamlDotNet.Core.Events.ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (inner.Current is { } current) LastGood = current.End;
            if (!inner.MoveNext()) return false;
            switch (inner.Current)
            {
                // Refused where they stand (the node tree no longer says where an alias was, only its anchor).
                case YamlDotNet.Core.Events.AnchorAlias or YamlDotNet.Core.Events.NodeEvent { Anchor.IsEmpty: false }:
                    throw new ManifestException([new ManifestError(file, (int)inner.Current.Start.Line, (int)inner.Current.Start.Column, AnchorsUnsupported)]);
                case YamlDotNet.Core.Events.SequenceStart or YamlDotNet.Core.Events.MappingStart when ++_depth > MaxNesting:
                    throw new ManifestException([new ManifestError(file, (int)inner.Current.Start.Line, (int)inner.Current.Start.Column,
                        $"lists and mappings nested more than {MaxNesting} levels deep; a manifest needs at most 4")]);
                case YamlDotNet.Core.Events.SequenceEnd or YamlDotNet.Core.Events.MappingEnd:
                    _depth--;
                    break;
                // Before any value is used as a path (.NET throws on one), a command, an address or an environment value.
                case YamlDotNet.Core.Events.Scalar { Value: var value } when value.Contains('\0'):
                    throw new ManifestException([new ManifestError(file, (int)inner.Current.Start.Line, (int)inner.Current.Start.Column,
                        "a NUL character (\\0) in a value: no command, path, address or environment value can hold one")]);
            }
            return true;
        }
    }

    private static bool HasAlias(YamlNode root)
    {
        var stack = new Stack<YamlNode>([root]);
        var seen = new HashSet<YamlNode>(ReferenceEqualityComparer.Instance);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!seen.Add(node)) return true;
            if (!node.Anchor.IsEmpty) return true;
            var children = node switch
            {
                YamlMappingNode m => m.Children.SelectMany(c => new[] { c.Key, c.Value }),
                YamlSequenceNode s => s.Children,
                _ => [],
            };
            foreach (var child in children) stack.Push(child);
        }
        return false;
    }

    private static string StripPosition(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: ..) - (Line: ..): "; the position is already in our prefix.
        var marker = message.LastIndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker > 0 ? message[(marker + 3)..] : message;
    }

    private static ManifestException Single(string file, string message, int line = 1) =>
        new([new ManifestError(file, line, 1, message)]);

    /// <summary>Walks the document once, filling a manifest and recording problems in the reader.</summary>
    private sealed class ManifestBuilder(YamlNodeReader r, string file, YamlNode root)
    {
        private readonly string _directory = Path.GetDirectoryName(file)!;

        public PackManifest? Build()
        {
            var top = r.Mapping(root, "the manifest", TopKeys);
            if (top is null) return null;

            var name = top.TryGetValue("name", out var nameNode) ? r.NonEmptyString(nameNode, "name") : Missing("name");
            if (name is not null && !IsValidPackName(name))
            {
                r.Error(nameNode!, $"'name' must be {PackNameRule}, at most 63 characters, not '{name}'");
                name = null;
            }
            var workingDirectory = _directory;
            if (top.TryGetValue("workingDirectory", out var wdNode) && r.NonEmptyString(wdNode, "workingDirectory") is { } wd)
            {
                workingDirectory = Path.GetFullPath(wd, _directory);
                if (!Directory.Exists(workingDirectory)) r.Error(wdNode, $"working directory '{workingDirectory}' does not exist");
            }
            var command = top.TryGetValue("command", out var commandNode) ? ResolveCommand(commandNode) : Missing("command");
            var args = top.TryGetValue("args", out var argsNode) ? StringList(argsNode, "args") : [];
            var env = top.TryGetValue("env", out var envNode) ? Env(envNode) : new Dictionary<string, string>();
            int? workers = null;
            if (top.TryGetValue("workers", out var workersNode) && !IsAuto(workersNode)) workers = r.Int(workersNode, "workers", 1, PackManifest.MaxWorkers);
            var cpus = top.TryGetValue("cpus", out var cpusNode) ? Cpus(cpusNode) : CpuSelection.Auto;
            var listeners = top.TryGetValue("listeners", out var listenersNode) ? Listeners(listenersNode) : [];
            var account = WorkerAccountReader.Read(r, top.GetValueOrDefault("user"), top.GetValueOrDefault("group"));

            var manifest = new PackManifest
            {
                Name = name ?? "",
                ManifestPath = file,
                Command = command ?? "",
                Args = args,
                WorkingDirectory = workingDirectory,
                Env = env,
                Workers = workers,
                Cpus = cpus,
                Listeners = listeners,
                Account = account,
            };
            manifest = Section(top, "limits", manifest, ["nofile"], (m, e) => m with
            {
                NofileLimit = e.TryGetValue("nofile", out var n) ? (ulong?)r.Int(n, "limits.nofile", 64, int.MaxValue) : null,
            });
            manifest = Section(top, "ready", manifest, ["mode", "timeout", "delay"], (m, e) => m with
            {
                Ready = new ReadySpec
                {
                    Mode = Get(e, "mode", n => r.Enum(n, "ready.mode", ("notify", ReadyMode.Notify), ("delay", ReadyMode.Delay))) ?? m.Ready.Mode,
                    Timeout = Get(e, "timeout", n => r.Duration(n, "ready.timeout", false)) ?? m.Ready.Timeout,
                    Delay = Get(e, "delay", n => r.Duration(n, "ready.delay", true)) ?? m.Ready.Delay,
                },
            });
            manifest = Section(top, "stop", manifest, ["signal", "timeout"], (m, e) => m with
            {
                Stop = new StopSpec
                {
                    Signal = Get(e, "signal", StopSignal) ?? m.Stop.Signal,
                    Timeout = Get(e, "timeout", n => r.Duration(n, "stop.timeout", false)) ?? m.Stop.Timeout,
                },
            });
            manifest = Section(top, "restart", manifest, ["backoff", "limit"], (m, e) => m with { Restart = Restart(e, m.Restart) });
            manifest = Section(top, "reload", manifest, ["strategy"], (m, e) => m with
            {
                ReloadStrategy = Get(e, "strategy", n => r.Enum(n, "reload.strategy", ("surge", ReloadStrategy.Surge), ("rolling", ReloadStrategy.Rolling))) ?? m.ReloadStrategy,
            });
            manifest = Section(top, "watchdog", manifest, ["timeout"], (m, e) => m with
            {
                WatchdogTimeout = Get(e, "timeout", n => r.Duration(n, "watchdog.timeout", true)) ?? m.WatchdogTimeout,
            });
            manifest = Section(top, "logs", manifest, ["workers", "maxSize", "format"], (m, e) => m with
            {
                WorkerLogs = Get(e, "workers", n => r.Enum(n, "logs.workers", ("inherit", WorkerLogMode.Inherit), ("prefix", WorkerLogMode.Prefix))) ?? m.WorkerLogs,
                LogMaxBytes = Get(e, "maxSize", n => r.Size(n, "logs.maxSize", 64 * 1024)) ?? m.LogMaxBytes,
                LogFormat = Get(e, "format", n => r.Enum(n, "logs.format", ("text", LogFormat.Text), ("json", LogFormat.Json))) ?? m.LogFormat,
            });
            manifest = Section(top, "metrics", manifest, ["address", "otlp"], (m, e) => m with { MetricsAddress = MetricsAddress(e, listeners), Otlp = Otlp(e) });
            return manifest;
        }

        /// <summary>metrics.address: a tcp address of its own (not a listener's: the workers serve those).</summary>
        private System.Net.IPEndPoint? MetricsAddress(Dictionary<string, YamlNode> entries, IReadOnlyList<ListenerSpec> listeners)
        {
            if (!entries.TryGetValue("address", out var node) || r.NonEmptyString(node, "metrics.address") is not { } text) return null;
            if (!ListenerAddress.TryParse(text, _directory, out var address, out var problem)) { r.Error(node, problem); return null; }
            if (address!.Tcp is not { } endpoint) { r.Error(node, "'metrics.address' must be a tcp://HOST:PORT address (Prometheus scrapes over TCP)"); return null; }
            if (endpoint.Port != 0 && listeners.FirstOrDefault(l => l.Address == address || Overlap(l.Address, address)) is { } taken)
            {
                r.Error(node, $"'metrics.address' {address} is taken by listener '{taken.Name}' ({taken.Address}); the master serves metrics on a port of its own");
                return null;
            }
            return endpoint;
        }

        /// <summary>metrics.otlp: <c>endpoint: http://HOST[:PORT][/PATH]</c> (port 4318, path /v1/metrics by default), <c>interval</c> (10s, at least 1s).</summary>
        private OtlpSpec? Otlp(Dictionary<string, YamlNode> entries)
        {
            if (!entries.TryGetValue("otlp", out var node)) return null;
            if (r.Mapping(node, "'metrics.otlp'", ["endpoint", "interval"]) is not { } otlp) return null;
            var interval = Get(otlp, "interval", n => r.Duration(n, "metrics.otlp.interval", false));
            // Reported with the endpoint's problems, not instead of them: every problem at once.
            if (interval < OtlpSpec.MinInterval)
            {
                r.Error(otlp["interval"], "'metrics.otlp.interval' must be at least 1s");
                interval = null;
            }
            if (!otlp.TryGetValue("endpoint", out var endpointNode))
            {
                r.Error(node, "'metrics.otlp' needs 'endpoint' (http://HOST:PORT of an OTLP/HTTP receiver, such as an OpenTelemetry Collector)");
                return null;
            }
            if (r.NonEmptyString(endpointNode, "metrics.otlp.endpoint") is not { } text) return null;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0
                || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            {
                r.Error(endpointNode, $"'metrics.otlp.endpoint' must be an http://HOST:PORT address, not '{text}'");
                return null;
            }
            if (uri.Port == 0)
            {
                r.Error(endpointNode, $"'metrics.otlp.endpoint' must name the receiver's port (4318 when none is given), not port 0: '{text}'");
                return null;
            }
            if (uri.Scheme == "https")
            {
                r.Error(endpointNode, "'metrics.otlp.endpoint' must be http://: the master pushes plain OTLP/HTTP (run an OpenTelemetry Collector on the host or next to it for TLS)");
                return null;
            }
            var path = uri.AbsolutePath is "" or "/" ? "/v1/metrics" : uri.AbsolutePath;
            return new OtlpSpec(uri.IdnHost.Trim('[', ']'), uri.IsDefaultPort && !text.Contains(":80", StringComparison.Ordinal) ? 4318 : uri.Port, path, interval ?? OtlpSpec.DefaultInterval);
        }

        private string? Missing(string key)
        {
            r.Error(root, $"required key '{key}' is missing");
            return null;
        }

        private static bool IsAuto(YamlNode node) => node is YamlScalarNode { Value: "auto" };

        private static T? Get<T>(Dictionary<string, YamlNode> entries, string key, Func<YamlNode, T?> read) where T : struct =>
            entries.TryGetValue(key, out var node) ? read(node) : null;

        private PackManifest Section(Dictionary<string, YamlNode> top, string key, PackManifest manifest, string[] keys,
            Func<PackManifest, Dictionary<string, YamlNode>, PackManifest> apply)
        {
            if (!top.TryGetValue(key, out var node)) return manifest;
            var entries = r.Mapping(node, $"'{key}'", keys);
            return entries is null ? manifest : apply(manifest, entries);
        }

        private int? StopSignal(YamlNode node)
        {
            var text = r.Scalar(node, "stop.signal");
            if (text is null) return null;
            if (SignalNames.TryParseStopSignal(text, out var signal)) return signal;
            r.Error(node, $"'stop.signal' must be one of {string.Join(", ", SignalNames.StopSignalNames)}, not '{text}'");
            return null;
        }

        private RestartSpec Restart(Dictionary<string, YamlNode> entries, RestartSpec spec)
        {
            if (entries.TryGetValue("backoff", out var backoffNode) && r.Mapping(backoffNode, "'restart.backoff'", ["initial", "max"]) is { } backoff)
            {
                spec = spec with
                {
                    BackoffInitial = Get(backoff, "initial", n => r.Duration(n, "restart.backoff.initial", false)) ?? spec.BackoffInitial,
                    BackoffMax = Get(backoff, "max", n => r.Duration(n, "restart.backoff.max", false)) ?? spec.BackoffMax,
                };
                if (spec.BackoffMax < spec.BackoffInitial)
                    r.Error(backoffNode, $"'restart.backoff.max' ({Duration.Format(spec.BackoffMax)}) must not be less than 'restart.backoff.initial' ({Duration.Format(spec.BackoffInitial)})");
            }
            if (entries.TryGetValue("limit", out var limitNode) && r.Mapping(limitNode, "'restart.limit'", ["restarts", "window"]) is { } limit)
            {
                spec = spec with
                {
                    LimitRestarts = Get(limit, "restarts", n => r.Int(n, "restart.limit.restarts", 0, 1_000_000)) ?? spec.LimitRestarts,
                    LimitWindow = Get(limit, "window", n => r.Duration(n, "restart.limit.window", false)) ?? spec.LimitWindow,
                };
            }
            return spec;
        }

        private string? ResolveCommand(YamlNode node)
        {
            var command = r.NonEmptyString(node, "command");
            if (command is null) return null;
            var resolved = CommandResolver.Resolve(command, _directory, out var problem);
            if (resolved is null) r.Error(node, problem);
            return resolved;
        }

        private List<string> StringList(YamlNode node, string key)
        {
            var items = r.Sequence(node, key);
            if (items is null) return [];
            var values = new List<string>();
            foreach (var item in items)
                if (item is not YamlScalarNode { Value: { } value }) r.Error(item, $"each entry of '{key}' must be a single value");
                else values.Add(value);
            return values;
        }

        private Dictionary<string, string> Env(YamlNode node)
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            if (node is not YamlMappingNode mapping) { r.Error(node, "'env' must be a mapping of variable names to values"); return env; }
            foreach (var (keyNode, value) in mapping.Children)
            {
                var key = (keyNode as YamlScalarNode)?.Value;
                if (key is null || !EnvName().IsMatch(key)) { r.Error(keyNode, $"'{key}' is not a valid environment variable name"); continue; }
                if (WorkerContract.IsReserved(key)) { r.Error(keyNode, $"'env.{key}' is set by gopherpack for each worker and cannot be set in the manifest"); continue; }
                if (value is not YamlScalarNode { Value: { } text }) r.Error(value, $"'env.{key}' must be a single value");
                else env[key] = text;
            }
            return env;
        }

        private CpuSelection Cpus(YamlNode node)
        {
            if (node is YamlScalarNode { Value: "auto" }) return CpuSelection.Auto;
            if (node is YamlScalarNode { Value: "none" }) return CpuSelection.None;
            if (node is not YamlSequenceNode sequence || sequence.Children.Count == 0)
            {
                r.Error(node, "'cpus' must be auto, none or a non-empty list like [0, 2, \"4-7\"]");
                return CpuSelection.Auto;
            }
            var cpus = new List<int>();
            foreach (var item in sequence.Children)
            {
                var text = (item as YamlScalarNode)?.Value;
                if (text is null || !CpuList.TryParseEntry(text, out var entry))
                {
                    r.Error(item, $"'{text}' in 'cpus' is not a CPU number or range like 4-7 (CPUs 0 to {CpuList.MaxCpu})");
                    continue;
                }
                foreach (var cpu in entry)
                    if (cpus.Contains(cpu)) r.Error(item, $"CPU {cpu} is listed twice in 'cpus'");
                    else cpus.Add(cpu);
            }
            return new CpuSelection(CpuSelectionKind.List, cpus);
        }

        /// <summary>0.0.0.0:P and 127.0.0.1:P (same family, same port, one a wildcard): with SO_REUSEADDR both bind, and the more specific one steals that address's connections.</summary>
        private static bool Overlap(ListenerAddress a, ListenerAddress b) =>
            a.Tcp is { } x && b.Tcp is { } y && x.Port != 0 && x.Port == y.Port && x.AddressFamily == y.AddressFamily && !x.Address.Equals(y.Address)
            && (x.Address.Equals(System.Net.IPAddress.Any) || y.Address.Equals(System.Net.IPAddress.Any)
                || x.Address.Equals(System.Net.IPAddress.IPv6Any) || y.Address.Equals(System.Net.IPAddress.IPv6Any));

        private List<ListenerSpec> Listeners(YamlNode node)
        {
            var items = r.Sequence(node, "listeners");
            var listeners = new List<ListenerSpec>();
            if (items is null) return listeners;
            foreach (var item in items)
            {
                var listener = Listener(item);
                if (listener is null) continue;
                if (listeners.Any(l => l.Name == listener.Name)) r.Error(item, $"listener name '{listener.Name}' is used twice");
                else if (listeners.Any(l => l.Address == listener.Address && listener.Address.Tcp?.Port != 0)) r.Error(item, $"address '{listener.Address}' is used by two listeners");
                else if (listeners.FirstOrDefault(l => Overlap(l.Address, listener.Address)) is { } other)
                    r.Error(item, $"address '{listener.Address}' overlaps '{other.Address}' of listener '{other.Name}': a wildcard address already takes that port");
                else listeners.Add(listener);
            }
            return listeners;
        }

        private ListenerSpec? Listener(YamlNode node)
        {
            var e = r.Mapping(node, "a listener", ListenerKeys);
            if (e is null) return null;
            var name = e.TryGetValue("name", out var nameNode) ? r.NonEmptyString(nameNode, "listeners.name") : null;
            if (nameNode is null) r.Error(node, "listener needs a 'name'");
            else if (name is not null && !ListenerName().IsMatch(name)) { r.Error(nameNode, $"listener name '{name}' may hold only letters, digits, '_', '.' and '-'"); name = null; }

            ListenerAddress? address = null;
            if (!e.TryGetValue("address", out var addressNode)) r.Error(node, "listener needs an 'address' like tcp://0.0.0.0:8080 or unix:///run/app.sock");
            else if (r.NonEmptyString(addressNode, "listeners.address") is { } text && !ListenerAddress.TryParse(text, _directory, out address, out var problem))
                r.Error(addressNode, problem);

            var mode = Get(e, "mode", n => r.Enum(n, "listeners.mode", ("shared", ListenerMode.Shared), ("reuseport", ListenerMode.ReusePort))) ?? ListenerMode.Shared;
            if (mode == ListenerMode.ReusePort && address is { IsUnix: true })
                r.Error(e["mode"], "'reuseport' mode is for tcp listeners only; unix sockets are always shared");
            var protocols = Get(e, "protocols", n => r.Enum(n, "listeners.protocols",
                ("http1", ListenerProtocols.Http1), ("http2", ListenerProtocols.Http2), ("http1AndHttp2", ListenerProtocols.Http1AndHttp2), ("tcp", ListenerProtocols.Tcp)))
                ?? ListenerProtocols.Http1AndHttp2;
            int? fileMode = null;
            if (e.TryGetValue("fileMode", out var fileModeNode) && r.Scalar(fileModeNode, "listeners.fileMode") is { } modeText)
            {
                if (!OctalMode().IsMatch(modeText)) r.Error(fileModeNode, $"'fileMode' must be octal permissions like 0660, not '{modeText}'");
                else if (address is { IsUnix: false }) r.Error(fileModeNode, "'fileMode' applies to unix:// listeners only");
                else fileMode = Convert.ToInt32(modeText, 8);
            }
            var listener = new ListenerSpec
            {
                Name = name ?? "",
                Address = address ?? ListenerAddress.ForUnix("/"),
                Mode = mode,
                Backlog = Get(e, "backlog", n => r.Int(n, "listeners.backlog", 1, 65535)) ?? 4096,
                Protocols = protocols,
                MaxConnections = Get(e, "maxConnections", n => r.Int(n, "listeners.maxConnections", 1, 10_000_000)),
                Tls = e.TryGetValue("tls", out var tlsNode) ? Tls(tlsNode) : null,
                FileMode = fileMode,
            };
            return name is null || address is null ? null : listener;
        }

        private TlsSpec? Tls(YamlNode node)
        {
            var e = r.Mapping(node, "'tls'", ["certificate", "key"]);
            if (e is null) return null;
            string? File(string key)
            {
                if (!e.TryGetValue(key, out var n)) { r.Error(node, $"'tls' needs '{key}' (a PEM file)"); return null; }
                var value = r.NonEmptyString(n, "tls." + key);
                if (value is null) return null;
                var full = Path.GetFullPath(value, _directory);
                if (!System.IO.File.Exists(full)) { r.Error(n, $"TLS {key} file '{full}' does not exist"); return null; }
                return full;
            }
            var certificate = File("certificate");
            var key = File("key");
            return certificate is null || key is null ? null : new TlsSpec(certificate, key);
        }
    }
}
