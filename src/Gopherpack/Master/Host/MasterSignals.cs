using System.Runtime.InteropServices;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// The signals a master answers, each turned into work off the signal thread: stop signals, SIGCHLD and
/// SIGTTIN/SIGTTOU post events; SIGHUP and SIGUSR2 run the control request they stand for, which reads the
/// manifest before it posts its event. SIGHUPs coalesce while a reload runs, as nginx's do.
/// </summary>
internal sealed class MasterSignals : IDisposable
{
    private static readonly PosixSignal[] StopSignals = [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT];
    private readonly List<PosixSignalRegistration> _registrations = [];

    public MasterSignals(MasterEventLoop loop, ControlDispatcher dispatcher, IMasterLog log)
    {
        foreach (var signal in StopSignals)
            Handle(signal, context => loop.Post(new StopRequested($"{context.Signal} received",
                Mode: context.Signal == PosixSignal.SIGQUIT ? StopMode.KillIfStopping : StopMode.Graceful)));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => loop.Post(new ReapRequested(Signalled: true))));
        var reload = new CoalescedSignal("SIGHUP", () => dispatcher.Reload(null, null, "SIGHUP"), log);
        Handle(PosixSignal.SIGHUP, _ => reload.Raise());
        Handle((PosixSignal)SignalNames.SIGUSR2, _ => Task.Run(() => dispatcher.Upgrade(null, null, "SIGUSR2")));
        foreach (var (signal, step) in new[] { (PosixSignal.SIGTTIN, +1), (PosixSignal.SIGTTOU, -1) })
            Handle(signal, context => loop.Post(new ScaleStepRequested(step, context.Signal.ToString())));
    }

    /// <summary>Handled here instead of by the signal's default action (which would end or stop the master).</summary>
    private void Handle(PosixSignal signal, Action<PosixSignalContext> handler) =>
        _registrations.Add(PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            handler(context);
        }));

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
    }
}
