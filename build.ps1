#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds Gopherpack, assembles the PowerShell module, runs the tests, or runs the demo.
.DESCRIPTION
    Build   dotnet build of the whole solution.
    Module  assembles the module folder out/Gopherpack: cmdlets, generated help and the gopherpack master
            (the same as: dotnet publish src/Gopherpack.PowerShell -c Release -o out/Gopherpack).
    Package writes out/packages: Gopherpack.VERSION.nupkg (the module, as Publish-PSResource packs it, for
            Install-PSResource), Gopherpack.Worker.VERSION.nupkg (dotnet pack, for dotnet add package) and
            gopherpack-VERSION-linux-x64.tar.gz (the native gopherpack, LICENSE, README, CHANGELOG, docs/ and the systemd units).
            VERSION is the one <Version> of Directory.Build.props.
    Test    the xunit suites (dotnet test: tests/Unit, and tests/PowerShell in the hosted engine), then the Pester suite in tests/Pester
            (its Packages tests need the Package task's out/packages; All runs Build, Package, Test).
    Demo    starts a pack of the hello example with the module, lists it, reloads it, stops it.
.EXAMPLE
    ./build.ps1 -Task Module
.EXAMPLE
    ./build.ps1 -Task Package
#>
param(
    [ValidateSet('Build', 'Module', 'Package', 'Test', 'Demo', 'All')]
    [string] $Task = 'All',
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE" }
}

function Invoke-Build { Invoke-Native 'dotnet build' { dotnet build Gopherpack.slnx -c $Configuration } }

function Invoke-Module([string] $MasterDir) {
    # With a folder the native gopherpack was published to, the module ships that very file (no second publish).
    [string[]] $master = if ($MasterDir) { "-p:GopherpackMasterDir=$MasterDir" } else { @() }
    Invoke-Native 'dotnet publish' { dotnet publish src/Gopherpack.PowerShell -c $Configuration -o out/Gopherpack @master }
    Write-Host "module assembled in $(Join-Path $PSScriptRoot 'out/Gopherpack')"
}

function Get-Version {
    $version = (Select-Xml -Path (Join-Path $PSScriptRoot 'Directory.Build.props') -XPath '/Project/PropertyGroup/Version').Node.InnerText
    if (-not $version) { throw 'Directory.Build.props has no <Version>' }
    $version
}

function Get-RuntimeId {
    switch ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture) {
        'X64' { 'linux-x64' }
        'Arm64' { 'linux-arm64' }
        default { throw "no NativeAOT runtime identifier for $_" }
    }
}

function Invoke-Package {
    $version = Get-Version
    $rid = Get-RuntimeId
    $packages = Join-Path $PSScriptRoot 'out/packages'
    Remove-Item -Recurse -Force $packages -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Path $packages | Out-Null

    # The native gopherpack, published once: the module and the archive ship this same file.
    $native = Join-Path $PSScriptRoot 'out/native'
    Invoke-Native 'dotnet publish (native gopherpack)' { dotnet publish src/Gopherpack.Cli -c $Configuration -r $rid -o $native }
    $said = & (Join-Path $native 'gopherpack') --version
    if ($said -ne $version) { throw "gopherpack --version says '$said', Directory.Build.props says $version" }

    # The module: a nupkg made by PSResourceGet's own packer (what Publish-PSResource uploads).
    Invoke-Module -MasterDir $native
    $module = Join-Path $PSScriptRoot 'out/Gopherpack'
    $hashes = (Join-Path $native 'gopherpack'), (Join-Path $module 'gopherpack') | ForEach-Object { (Get-FileHash $_ -Algorithm SHA256).Hash }
    if ($hashes[0] -ne $hashes[1]) { throw "the module's gopherpack is not the native one of $native" }
    $manifest = Import-PowerShellDataFile (Join-Path $module 'Gopherpack.psd1')
    if ($manifest.ModuleVersion -ne $version) { throw "the module's ModuleVersion is $($manifest.ModuleVersion), Directory.Build.props says $version" }
    Compress-PSResource -Path $module -DestinationPath $packages
    if (-not (Test-Path (Join-Path $packages "Gopherpack.$version.nupkg"))) { throw "Compress-PSResource wrote no Gopherpack.$version.nupkg" }

    # The worker library for dotnet add package.
    Invoke-Native 'dotnet pack' { dotnet pack src/Gopherpack.Worker -c $Configuration -o $packages }

    # The release archive: runs without .NET.
    $name = "gopherpack-$version-$rid"
    $stage = Join-Path $PSScriptRoot "out/archive/$name"
    Remove-Item -Recurse -Force (Split-Path $stage) -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Path (Join-Path $stage 'systemd') | Out-Null
    Copy-Item (Join-Path $native 'gopherpack'), LICENSE, README.md, CHANGELOG.md -Destination $stage
    Copy-Item docs/systemd/* -Destination (Join-Path $stage 'systemd')
    # The docs README.md links to (the reference, operating a pack, ...), at the same relative paths.
    Copy-Item docs -Recurse -Destination (Join-Path $stage 'docs')
    Invoke-Native 'tar' { tar -C (Split-Path $stage) --owner=0 --group=0 -czf (Join-Path $packages "$name.tar.gz") $name }

    Get-ChildItem $packages | ForEach-Object { Write-Host "$($_.FullName) ($([math]::Round($_.Length / 1MB, 1)) MiB)" }
}

function Invoke-Test {
    Invoke-Native 'dotnet test' { dotnet test Gopherpack.slnx }
    if (-not (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0')) { throw 'Pester 5 is needed: Install-Module Pester -MinimumVersion 5.0' }
    $result = Invoke-Pester -Path tests/Pester -PassThru -Output Detailed
    if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed" }
}

function Invoke-Demo {
    Invoke-Native 'dotnet build' { dotnet build Gopherpack.slnx }
    Invoke-Module
    Import-Module (Join-Path $PSScriptRoot 'out/Gopherpack/Gopherpack.psd1') -Force
    $pack = Start-Pack -Manifest examples/HelloHttp/app.yml
    $pack | Format-Table
    Get-PackWorker -Name $pack.Name | Format-Table
    Invoke-PackReload -Name $pack.Name -ErrorAction Stop | Format-Table
    Invoke-RestMethod http://127.0.0.1:8080/ | Format-List
    Stop-Pack -Name $pack.Name -Confirm:$false
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Module' { Invoke-Module }
    'Package' { Invoke-Package }
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'All' { Invoke-Build; Invoke-Package; Invoke-Test }
}
