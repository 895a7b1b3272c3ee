@{
    RootModule           = 'Gopherpack.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '3fc08424-c8e5-418c-86c6-63dee710263d'
    Author               = 'The Gopherpack developers'
    CompanyName          = 'Gopherpack'
    Copyright            = '(c) The Gopherpack developers'
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
            Tags = @('Linux', 'Supervisor', 'Prefork', 'ZeroDowntime', 'Kestrel')
        }
    }
}
