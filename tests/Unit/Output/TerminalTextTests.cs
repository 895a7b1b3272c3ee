using System.Text;
using Gopherpack.Output;

namespace Gopherpack.Tests.Output;

public sealed class TerminalTextTests
{
    private static string Visible(string line) => Encoding.UTF8.GetString(TerminalText.Visible(Encoding.UTF8.GetBytes(line)));

    [Theory]
    [InlineData("plain text, tabs\tand ünïcode stay", "plain text, tabs\tand ünïcode stay")]
    [InlineData("\u001b[31mred\u001b[0m", "^[[31mred^[[0m")]
    [InlineData("title \u001b]0;x\u0007 bell, enq \u0005, del \u007f", "title ^[]0;x^G bell, enq ^E, del ^?")]
    [InlineData("c1 csi \u009b6n", "c1 csi \\u009b6n")]
    public void Control_characters_become_visible_text(string line, string shown) => Assert.Equal(shown, Visible(line));

    [Fact]
    public void Bytes_that_are_not_utf8_cannot_reach_the_terminal_as_c1_controls()
    {
        // A lone 0x9B is CSI to a terminal not in UTF-8 mode; a lone 0xC2 and 0xFF are no UTF-8 either.
        var shown = TerminalText.Visible([(byte)'a', 0x9B, (byte)'3', (byte)'1', (byte)'m', 0xC2, 0xFF]).ToArray();
        Assert.Equal("a\uFFFD31m\uFFFD\uFFFD", Encoding.UTF8.GetString(shown));
        Assert.Equal(shown, Encoding.UTF8.GetBytes("a\uFFFD31m\uFFFD\uFFFD"));
    }

    [Fact]
    public void A_quoted_worker_line_is_kept_as_visible_text()
    {
        var recent = new Gopherpack.Master.RecentLines();
        recent.Add(Encoding.UTF8.GetBytes("boom \u001b]52;c;cHduZWQ=\u0007"));
        Assert.Equal("boom ^[]52;c;cHduZWQ=^G", Assert.Single(recent.ToList()));
    }
}
