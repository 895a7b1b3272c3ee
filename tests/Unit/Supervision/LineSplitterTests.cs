using System.Text;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

public sealed class LineSplitterTests
{
    private static List<string> Split(params string[] chunks)
    {
        var lines = new List<string>();
        var splitter = new LineSplitter();
        foreach (var chunk in chunks) splitter.Feed(Encoding.UTF8.GetBytes(chunk), line => lines.Add(Encoding.UTF8.GetString(line)));
        splitter.Finish(line => lines.Add(Encoding.UTF8.GetString(line)));
        return lines;
    }

    [Fact]
    public void Lines_are_joined_across_reads_and_a_last_line_without_newline_is_kept()
    {
        Assert.Equal(["hello world", "second", "", "tail"], Split("hel", "lo world\r\nsec", "ond\n\n", "tail"));
    }

    [Fact]
    public void A_line_longer_than_the_maximum_is_cut_into_pieces_of_at_most_16_KiB()
    {
        var lines = Split(new string('x', 40_000) + "\nnext\n");
        Assert.Equal([16384, 16384, 40_000 - 32768, 4], lines.Select(l => l.Length));
    }

    [Fact]
    public void A_cut_never_splits_a_utf8_character()
    {
        // 16383 ASCII bytes, then a 3-byte character straddling the limit.
        var lines = Split(new string('a', 16383) + "€" + "b\n");
        Assert.Equal(2, lines.Count);
        Assert.Equal(16383, lines[0].Length);
        Assert.Equal("€b", lines[1]);
        Assert.DoesNotContain('\uFFFD', string.Concat(lines));
    }
}
