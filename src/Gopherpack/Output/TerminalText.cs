using System.Text;

namespace Gopherpack.Output;

/// <summary>
/// Text that is safe to show on a terminal: control characters (C0 but TAB, DEL, and C1) are written in caret notation
/// (<c>^[</c> for ESC) or as <c>\u009b</c>, as <c>cat -v</c> shows them, and bytes that are not UTF-8 become U+FFFD
/// (a lone 0x9B is CSI to a terminal not in UTF-8 mode), so a line cannot move the cursor, change the title, write the
/// clipboard or make the terminal answer into its own input.
/// </summary>
internal static class TerminalText
{
    public static ReadOnlySpan<byte> Visible(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
            if (b is < 0x20 and not (byte)'\t' || b >= 0x7F)
                return Encoding.UTF8.GetBytes(Visible(Encoding.UTF8.GetString(line)));
        return line;
    }

    public static string Visible(string text)
    {
        if (!text.Any(IsControl)) return text;
        var visible = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!IsControl(c)) visible.Append(c);
            else if (c < 0x20) visible.Append('^').Append((char)(c + 0x40));
            else if (c == '\u007f') visible.Append("^?");
            else visible.Append($"\\u{(int)c:x4}");
        }
        return visible.ToString();
    }

    private static bool IsControl(char c) => c is < ' ' and not '\t' or '\u007f' or >= '\u0080' and <= '\u009f';
}
