using System.Text;
using System.Text.Json;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Output;

namespace Gopherpack.Tests.Observability;

/// <summary>With logs.format json the output's own notice (lines dropped) is a JSON line too.</summary>
public sealed class OutputNoticeTests
{
    [Fact]
    public async Task The_dropped_lines_notice_is_a_json_line_when_notices_are_json()
    {
        var fds = Pipe();
        using var reader = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fds[0], ownsHandle: true), FileAccess.Read);
        var sink = new OutputSink(fds[1], "stdout", capacity: 1024) { Notice = text => MasterLogs.Notice("unit", text) };
        // Nobody reads the pipe yet: once its 64 KiB are full the writer blocks and the 1 KiB queue overflows.
        var line = new string('x', 100);
        for (var i = 0; i < 2000; i++) sink.TryWrite(line);
        Assert.True(sink.DroppedLines > 0);
        var text = new StringBuilder();
        var drain = Task.Run(() =>
        {
            var buffer = new byte[65536];
            int read;
            while ((read = reader.Read(buffer)) > 0)
                lock (text) text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        });
        sink.TryWrite("last");
        sink.Flush(TimeSpan.FromSeconds(30));
        var notice = "";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            lock (text) notice = text.ToString().Split('\n').FirstOrDefault(l => l.Contains("dropped")) ?? "";
            if (notice != "" && text.ToString().Contains("last")) break;
            await Task.Delay(20);
        }
        Assert.True(notice != "", "no dropped-lines notice in the output");
        var json = JsonDocument.Parse(notice).RootElement;
        Assert.Equal("unit", json.GetProperty("pack").GetString());
        Assert.Equal("output", json.GetProperty("event").GetString());
        Assert.Contains("line(s) of output dropped", json.GetProperty("message").GetString());
        Libc.close(fds[1]);
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static unsafe int[] Pipe()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Libc.pipe2(fds, 0x80000));
        return [fds[0], fds[1]];
    }
}
