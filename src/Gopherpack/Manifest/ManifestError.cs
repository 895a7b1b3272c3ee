namespace Gopherpack.Manifest;

/// <summary>One problem in a manifest, printed as <c>file:line:col: message</c>.</summary>
public sealed record ManifestError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>Thrown by <see cref="ManifestLoader"/> with every problem found, never with a partial list.</summary>
public sealed class ManifestException(IReadOnlyList<ManifestError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ManifestError> Errors { get; } = errors;
}
