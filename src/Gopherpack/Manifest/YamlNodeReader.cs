using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Manifest;

/// <summary>Reads typed values out of YAML nodes, recording each problem with its position instead of stopping.</summary>
internal sealed class YamlNodeReader(string file)
{
    private readonly List<ManifestError> _errors = [];
    public IReadOnlyList<ManifestError> Errors => _errors;

    public void Error(YamlNode node, string message) => Error(node.Start, message);

    public void Error(Mark mark, string message) =>
        _errors.Add(new ManifestError(file, (int)mark.Line, (int)mark.Column, message));

    /// <summary>The entries of a mapping; unknown keys are reported with a suggestion and left out.</summary>
    public Dictionary<string, YamlNode>? Mapping(YamlNode node, string what, IReadOnlyCollection<string> knownKeys)
    {
        if (node is not YamlMappingNode mapping)
        {
            Error(node, $"{what} must be a mapping of keys to values");
            return null;
        }
        var entries = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, $"{what}: keys must be plain names");
                continue;
            }
            if (!knownKeys.Contains(key))
            {
                var hint = KeySuggester.Closest(key, knownKeys);
                Error(keyNode, $"unknown key '{key}' in {what}" + (hint is null ? $" (known keys: {string.Join(", ", knownKeys)})" : $"; did you mean '{hint}'?"));
                continue;
            }
            entries[key] = value;
        }
        return entries;
    }

    public string? Scalar(YamlNode node, string key)
    {
        if (node is YamlScalarNode scalar && scalar.Value is { } value && !IsNull(scalar)) return value;
        Error(node, $"'{key}' must be a single value" + (node is YamlScalarNode ? ", not empty" : ""));
        return null;
    }

    public string? NonEmptyString(YamlNode node, string key)
    {
        var value = Scalar(node, key);
        if (value is not null && value.Trim().Length == 0) { Error(node, $"'{key}' must not be empty"); return null; }
        return value;
    }

    public int? Int(YamlNode node, string key, int min, int max)
    {
        var text = Scalar(node, key);
        if (text is null) return null;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
            return value;
        Error(node, $"'{key}' must be a whole number from {min} to {max}, not '{text}'");
        return null;
    }

    public TimeSpan? Duration(YamlNode node, string key, bool allowZero)
    {
        var text = Scalar(node, key);
        if (text is null) return null;
        if (Manifest.Duration.TryParse(text, out var value) && (allowZero || value > TimeSpan.Zero))
        {
            if (value <= Manifest.Duration.Max) return value;
            Error(node, $"'{key}' must be at most {Manifest.Duration.MaxText} (the longest the master's timers accept), not '{text}'");
            return null;
        }
        Error(node, $"'{key}' must be a duration like 100ms, 30s, 2m or 1h{(allowZero ? "" : " greater than zero")}, not '{text}'");
        return null;
    }

    /// <summary>A size: <c>1048576</c>, <c>512KiB</c>, <c>64MiB</c>, <c>1GiB</c> (K/M/G and KB/MB/GB mean the same powers of 1024).</summary>
    public long? Size(YamlNode node, string key, long minimum)
    {
        var text = Scalar(node, key);
        if (text is null) return null;
        var match = System.Text.RegularExpressions.Regex.Match(text, @"^(\d{1,12})\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB)?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        if (match.Success)
        {
            var unit = match.Groups[2].Value.ToUpperInvariant();
            var value = long.Parse(match.Groups[1].Value) * (unit.Length == 0 ? 1 : unit[0] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 });
            if (value >= minimum) return value;
        }
        Error(node, $"'{key}' must be a size like 64MiB or 512KiB, at least {minimum / 1024} KiB, not '{text}'");
        return null;
    }

    public T? Enum<T>(YamlNode node, string key, params (string Name, T Value)[] choices) where T : struct
    {
        var text = Scalar(node, key);
        if (text is null) return null;
        foreach (var (name, value) in choices)
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
        Error(node, $"'{key}' must be one of {string.Join(", ", choices.Select(c => c.Name))}, not '{text}'");
        return null;
    }

    public IReadOnlyList<YamlNode>? Sequence(YamlNode node, string key)
    {
        if (node is YamlSequenceNode sequence) return sequence.Children.ToList();
        Error(node, $"'{key}' must be a list");
        return null;
    }

    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";
}
