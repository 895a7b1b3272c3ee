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
}
