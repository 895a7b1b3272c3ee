using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Tests.Runtime;

/// <summary>What a caller learns from a signal it sends: nothing when it was sent or the process has gone, else why not.</summary>
public sealed class ProcessSignalTests
{
    /// <summary>Above any pid_max (at most 2^22): no such process or group.</summary>
    private const int NoSuchPid = int.MaxValue;

    [Fact]
    public void A_signal_to_a_process_that_has_gone_is_no_failure()
    {
        Assert.Null(Processes.Signal(NoSuchPid, SignalNames.SIGTERM));
        Assert.Null(Processes.SignalGroup(NoSuchPid, SignalNames.SIGTERM));
    }

    [Fact]
    public void A_signal_that_cannot_be_sent_says_why()
    {
        // Signal 0 only checks that it could be sent, so this process is not disturbed; 999 is no signal (EINVAL), even for root.
        Assert.Null(Processes.Signal(Environment.ProcessId, 0));
        Assert.Contains("errno 22", Processes.Signal(Environment.ProcessId, 999));
        Assert.Contains("errno 22", Processes.SignalGroup(Environment.ProcessId, 999));
    }
}
