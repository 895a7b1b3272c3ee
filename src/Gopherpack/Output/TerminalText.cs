namespace Gopherpack.Output;

/// <summary>
/// Text that is safe to show on a terminal: control characters (C0 but TAB, DEL, and the C1 range) are written in caret
/// notation (<c>^[</c> for ESC) or as <c>\u0080</c>..., as <c>cat -v</c> shows them, so a line cannot move the cursor,
/// change the title, write the clipboard or make the terminal answer into its own input.
/// </summary>
internal static class TerminalText
{
    public static ReadOnlySpan<byte> Visible(ReadOnlySpan<byte> line)
    {
        if (!HasControls(line)) return line;
        var visible = new List<byte>(line.Length + 16);
        for (var i = 0; i < line.Length; i++)
        {
            var b = line[i];
            if (b == 0xC2 && i + 1 < line.Length && line[i + 1] is >= 0x80 and <= 0x9F)
            {
                visible.AddRange(System.Text.Encoding.ASCII.GetBytes($"\\u{line[i + 1]:x4}"));
                i++;
            }
            else if (b is < 0x20 and not (byte)'\t')
            {
                visible.Add((byte)'^');
                visible.Add((byte)(b + 0x40));
            }
            else if (b == 0x7F)
            {
                visible.Add((byte)'^');
                visible.Add((byte)'?');
            }
            else
            {
                visible.Add(b);
            }
        }
        return visible.ToArray();
    }

    private static bool HasControls(ReadOnlySpan<byte> line)
    {
        for (var i = 0; i < line.Length; i++)
        {
            var b = line[i];
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F || (b == 0xC2 && i + 1 < line.Length && line[i + 1] is >= 0x80 and <= 0x9F)) return true;
        }
        return false;
    }
}
