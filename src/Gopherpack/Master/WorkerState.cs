namespace Gopherpack.Master;

public enum WorkerState { Starting, Ready, Draining, Backoff, Failed }

internal enum PackState { Starting, Running, Stopping, Stopped }
