# The module manifest's template: the build (src/Gopherpack.PowerShell) writes it into the module folder with
# each version token replaced by the one version of Directory.Build.props.
@{
    RootModule           = 'Gopherpack.PowerShell.dll'
    ModuleVersion        = '@VERSION@'
    GUID                 = '3fc08424-c8e5-418c-86c6-63dee710263d'
    Author               = 'The Gopherpack developers'
    CompanyName          = 'Gopherpack'
    Copyright            = '(c) 2026 The Gopherpack developers'
    Description          = 'Runs a network server as a master and a pack of CPU-pinned workers on shared sockets, with zero-downtime reloads. Linux only; the module folder ships the native gopherpack master.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Gopherpack.Format.ps1xml')
    CmdletsToExport      = @('Start-Pack', 'Stop-Pack', 'Invoke-PackReload', 'Invoke-PackUpgrade', 'Get-PackWorker', 'Get-Pack', 'Test-PackManifest')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'Supervisor', 'Prefork', 'ZeroDowntime', 'Kestrel', 'systemd', 'PSEdition_Core')
            ProjectUri   = 'https://github.com/gopherpack/gopherpack'
            LicenseUri   = 'https://github.com/gopherpack/gopherpack/blob/main/LICENSE'
            ReleaseNotes = 'Gopherpack @VERSION@: see CHANGELOG.md, https://github.com/gopherpack/gopherpack/blob/main/CHANGELOG.md'
        }
    }
}
