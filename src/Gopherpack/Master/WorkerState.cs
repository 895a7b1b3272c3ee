namespace Gopherpack.Master;

public enum WorkerState { Starting, Ready, Draining, Backoff, Failed }

public enum PackState { Starting, Running, Stopping, Stopped }
