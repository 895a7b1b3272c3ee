#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds Gopherpack, assembles the PowerShell module, runs the tests, or runs the demo.
.DESCRIPTION
    Build   dotnet build of the whole solution.
    Module  assembles the module folder out/Gopherpack: cmdlets, generated help and the gopherpack master
            (the same as: dotnet publish src/Gopherpack.PowerShell -c Release -o out/Gopherpack).
    Test    the xunit suites (dotnet test: tests/Unit, and tests/PowerShell in the hosted engine), then the Pester suite in tests/Pester.
    Demo    starts a pack of the hello example with the module, lists it, reloads it, stops it.
.EXAMPLE
    ./build.ps1 -Task Module
#>
param(
    [ValidateSet('Build', 'Module', 'Test', 'Demo', 'All')]
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

function Invoke-Module {
    Invoke-Native 'dotnet publish' { dotnet publish src/Gopherpack.PowerShell -c $Configuration -o out/Gopherpack }
    Write-Host "module assembled in $(Join-Path $PSScriptRoot 'out/Gopherpack')"
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
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'All' { Invoke-Build; Invoke-Module; Invoke-Test }
}
