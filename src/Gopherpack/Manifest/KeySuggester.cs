namespace Gopherpack.Manifest;

/// <summary>Finds the known key closest to a misspelt one, for "did you mean" hints.</summary>
internal static class KeySuggester
{
    public static string? Closest(string unknown, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(unknown.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance) { best = candidate; bestDistance = distance; }
        }
        var allowed = Math.Max(2, unknown.Length / 3);
        return bestDistance <= allowed ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
