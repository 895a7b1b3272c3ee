using System.Diagnostics;

namespace Gopherpack.Metrics;

/// <summary>
/// Each worker's recent CPU use in percent of one CPU, as <c>top</c> shows it: the CPU time used between two
/// status reads at least <see cref="MinWindow"/> apart (the first read gives the average since the worker started).
/// Nothing is sampled between reads. Used on the master's loop only.
/// </summary>
internal sealed class CpuRates
{
    private static readonly TimeSpan MinWindow = TimeSpan.FromMilliseconds(500);
    private Dictionary<int, Sample> _samples = [];

    private sealed record Sample(long Timestamp, double CpuSeconds, double Percent);

    /// <summary>Reads for one status reply; pids not read are forgotten.</summary>
    public Reading Begin() => new(this);

    public sealed class Reading(CpuRates rates)
    {
        private readonly Dictionary<int, Sample> _next = [];
        private readonly long _now = Stopwatch.GetTimestamp();

        public double? Percent(int pid, double? cpuSeconds, TimeSpan uptime)
        {
            if (cpuSeconds is not { } cpu) return null;
            double percent;
            if (rates._samples.TryGetValue(pid, out var last) && Stopwatch.GetElapsedTime(last.Timestamp, _now) is var window && cpu >= last.CpuSeconds)
            {
                if (window < MinWindow)
                {
                    _next[pid] = last;
                    return last.Percent;
                }
                percent = (cpu - last.CpuSeconds) / window.TotalSeconds * 100;
            }
            else
            {
                percent = uptime > TimeSpan.Zero ? cpu / uptime.TotalSeconds * 100 : 0;
            }
            percent = Math.Round(Math.Max(0, percent), 1);
            _next[pid] = new Sample(_now, cpu, percent);
            return percent;
        }

        public void End() => rates._samples = _next;
    }
}
