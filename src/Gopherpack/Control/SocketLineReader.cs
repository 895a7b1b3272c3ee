using System.Net.Sockets;
using System.Text;

namespace Gopherpack.Control;

/// <summary>
/// The control protocol's lines read from a socket, both ends: requests on the master's side, heartbeats and
/// replies on the client's. Keeps what follows a newline for the next line.
/// </summary>
/// <param name="maxLineBytes">A longer line is returned cut to one byte over this, so the caller can refuse it.</param>
internal sealed class SocketLineReader(Socket socket, int maxLineBytes = int.MaxValue)
{
    private readonly MemoryStream _pending = new();
    private readonly byte[] _buffer = new byte[8192];

    /// <summary>At the end of the stream, return what follows the last newline as a line (else it is dropped).</summary>
    public bool KeepsUnterminatedLine { get; init; }

    /// <returns>The next line without its line ending; null at the end of the stream.</returns>
    public async Task<string?> ReadLineAsync(CancellationToken cancel)
    {
        while (true)
        {
            var buffered = _pending.GetBuffer().AsSpan(0, (int)_pending.Length);
            var newline = buffered.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = Encoding.UTF8.GetString(buffered[..newline]).TrimEnd('\r');
                var rest = buffered[(newline + 1)..].ToArray();
                _pending.SetLength(0);
                _pending.Write(rest);
                return line;
            }
            if (_pending.Length > maxLineBytes) return new string('x', maxLineBytes + 1);
            var read = await socket.ReceiveAsync(_buffer, SocketFlags.None, cancel);
            if (read == 0)
            {
                var last = KeepsUnterminatedLine && _pending.Length > 0 ? Encoding.UTF8.GetString(_pending.ToArray()) : null;
                _pending.SetLength(0);
                return last;
            }
            _pending.Write(_buffer, 0, read);
        }
    }
}
