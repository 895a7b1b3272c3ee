using System.Text;

namespace Gopherpack.Master.Upgrade;

/// <summary>
/// The lines the two masters of an upgrade exchange over the pipes of <see cref="UpgradeHandover"/>: the new master
/// writes <c>pid PID</c>, then <c>ready</c>, <c>taken GENERATION</c> or <c>failed REASON</c> on the status pipe; the
/// old master writes <c>commit</c> on the commit pipe (EOF there means abort), and after it <c>stop</c> (or <c>force</c>,
/// for <c>stop --force</c>) when the pack was told to stop while the new master took over: the new master stops too,
/// without waiting for the old one.
/// </summary>
internal static class UpgradeHandshake
{
    public const string Pid = "pid", Ready = "ready", Commit = "commit", Stop = "stop", Force = "force", Taken = "taken", Failed = "failed";

    public static string PidLine(int pid) => $"{Pid} {pid}";
    public static string TakenLine(int generation) => $"{Taken} {generation}";
    /// <summary>The reason on one line: a multi-line one would end the message early.</summary>
    public static string FailedLine(string reason) => $"{Failed} {reason.ReplaceLineEndings(" | ")}";

    /// <summary>What follows <paramref name="word"/> and a space on <paramref name="line"/>; null when the line is another word's.</summary>
    public static string? ArgumentOf(string line, string word) =>
        line.Length > word.Length && line[word.Length] == ' ' && line.StartsWith(word, StringComparison.Ordinal) ? line[(word.Length + 1)..] : null;

    /// <summary>Writes <paramref name="line"/> and its newline at once; false when the other master has closed its end.</summary>
    public static bool TryWriteLine(Stream pipe, string line)
    {
        try
        {
            pipe.Write(Encoding.UTF8.GetBytes(line + "\n"));
            pipe.Flush();
            return true;
        }
        catch (IOException) { return false; }
    }
}
