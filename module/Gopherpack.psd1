@{
    RootModule           = 'Gopherpack.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1d2b7e-3c4a-4e5f-9a8b-0c1d2e3f4a5b'
    Author               = 'The Gopherpack developers'
    CompanyName          = 'Gopherpack'
    Copyright            = '(c) The Gopherpack developers'
    Description          = 'Runs a network server as a master and a pack of CPU-pinned workers on shared sockets, with zero-downtime reloads.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Gopherpack.Format.ps1xml')
    CmdletsToExport      = @('Start-Pack', 'Stop-Pack', 'Invoke-PackReload', 'Get-PackWorker', 'Get-Pack', 'Test-PackManifest')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Linux', 'Supervisor', 'Prefork', 'ZeroDowntime', 'Kestrel')
            ProjectUri = 'https://example.invalid/gopherpack'
        }
    }
}
