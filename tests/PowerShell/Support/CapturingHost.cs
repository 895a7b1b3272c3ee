using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>
/// A PowerShell host that is not pwsh: what Out-Default renders (the Format.ps1xml views, -WhatIf lines, help)
/// is captured as text, 120 columns wide; progress records are kept. Nothing is read from a user.
/// </summary>
public sealed partial class CapturingHost : PSHost
{
    private readonly CapturingUserInterface _ui = new();

    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "GopherpackTestHost";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new(1, 0);

    /// <summary>Everything written to the host so far, and clears it.</summary>
    public string TakeText() => _ui.Take();
    public IReadOnlyList<ProgressRecord> Progress => _ui.ProgressRecords;

    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed partial class CapturingUserInterface : PSHostUserInterface
    {
        private readonly StringBuilder _text = new();
        private readonly List<ProgressRecord> _progress = [];

        public override PSHostRawUserInterface RawUI { get; } = new FixedRawUserInterface();
        public IReadOnlyList<ProgressRecord> ProgressRecords { get { lock (_progress) return _progress.ToList(); } }

        public string Take()
        {
            lock (_text)
            {
                var text = _text.ToString();
                _text.Clear();
                return text;
            }
        }

        /// <summary>Kept as a reader sees it: without the ANSI colour sequences the table headers carry.</summary>
        private void Append(string text) { lock (_text) _text.Append(Ansi().Replace(text, "")); }

        [System.Text.RegularExpressions.GeneratedRegex("\u001b\\[[0-9;]*m")] private static partial System.Text.RegularExpressions.Regex Ansi();

        public override void Write(string value) => Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Append(value);
        public override void WriteLine(string value) => Append(value + "\n");
        public override void WriteErrorLine(string value) => Append(value + "\n");
        public override void WriteDebugLine(string message) => Append("DEBUG: " + message + "\n");
        public override void WriteVerboseLine(string message) => Append("VERBOSE: " + message + "\n");
        public override void WriteWarningLine(string message) => Append("WARNING: " + message + "\n");
        public override void WriteProgress(long sourceId, ProgressRecord record) { lock (_progress) _progress.Add(record); }

        public override string ReadLine() => throw new NotSupportedException("the test host reads nothing");
        public override SecureString ReadLineAsSecureString() => throw new NotSupportedException("the test host reads nothing");
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) =>
            throw new NotSupportedException($"the test host answers no prompt: {caption} {message}");
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) =>
            throw new NotSupportedException($"the test host answers no prompt: {caption} {message}");
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();
    }

    private sealed class FixedRawUserInterface : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override Size BufferSize { get; set; } = new(120, 9999);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(120, 50);
        public override Size MaxWindowSize => new(120, 50);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new(120, 50);
        public override string WindowTitle { get; set; } = "";

        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("the test host reads nothing");
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
