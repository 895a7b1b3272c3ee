#Requires -Version 7.6
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Drives every cmdlet of the assembled module against real packs of the hello example, in pwsh.
# Run: Invoke-Pester tests/Pester   (after: dotnet build Gopherpack.slnx)
# $env:GOPHERPACK_TEST_MODULE may name an assembled module folder; otherwise it is published here.
# The same ground, and more, runs in the hosted engine in every dotnet test (tests/PowerShell).

BeforeAll {
    $root = Resolve-Path (Join-Path $PSScriptRoot '../..')
    $work = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "gp-pester-$([guid]::NewGuid().ToString('N').Substring(0, 8))")
    $module = $env:GOPHERPACK_TEST_MODULE
    if (-not $module) {
        $module = Join-Path $work 'Gopherpack'
        dotnet publish (Join-Path $root 'src/Gopherpack.PowerShell') -c Release -o $module | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'dotnet publish of the module failed' }
    }
    Import-Module (Join-Path $module 'Gopherpack.psd1') -Force

    $script:rt = Join-Path $work 'rt'
    $hello = Join-Path $root 'examples/HelloHttp/bin/Debug/net10.0/HelloHttp.dll'
    if (-not (Test-Path $hello)) { throw "build the solution first: $hello is missing" }
    $script:manifest = Join-Path $work 'app.yml'
    Set-Content $manifest @"
name: pester
command: dotnet
args: ["$hello"]
workers: 2
listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
"@
    $script:broken = Join-Path $work 'broken.yml'
    Set-Content $broken @"
name: pester
command: sh
args: ["-c", "echo 'cannot open the database' >&2; exit 1"]
workers: 2
listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
"@
    $script:invalid = Join-Path $work 'invalid.yml'
    Set-Content $invalid "name: pester`ncomand: dotnet`n"
}

AfterAll {
    Get-Pack -RuntimeDir $rt -ErrorAction SilentlyContinue | Stop-Pack -RuntimeDir $rt -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Module Gopherpack -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports exactly the documented cmdlets' {
        (Get-Command -Module Gopherpack).Name | Sort-Object |
            Should -Be @('Get-Pack', 'Get-PackWorker', 'Invoke-PackReload', 'Invoke-PackUpgrade', 'Start-Pack', 'Stop-Pack', 'Test-PackManifest')
    }
    It 'has help for every cmdlet, with a syntax and examples' {
        foreach ($command in Get-Command -Module Gopherpack) {
            $help = Get-Help $command.Name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            $help.Synopsis | Should -Not -Be $command.Name
            $help.syntax.syntaxItem | Should -Not -BeNullOrEmpty
            $help.examples.example | Should -Not -BeNullOrEmpty
        }
        $name = (Get-Help Stop-Pack -Parameter Name)
        $name.position | Should -Be '0'
        $name.pipelineInput | Should -Be 'True (ByPropertyName, ByValue)'
        $name.aliases | Should -Be 'Pack'
        $name.globbing | Should -Be 'true'
    }
    It 'takes -TimeoutSec (alias -TimeoutSeconds) on exactly the cmdlets the CHANGELOG names' {
        # The CHANGELOG's sentence: "`-TimeoutSec` on A, B and C (`-TimeoutSeconds` is an alias)".
        $changelog = (Get-Content (Join-Path $root 'CHANGELOG.md') -Raw) -replace '\s+', ' '
        $claim = [regex]::Match($changelog, '`-TimeoutSec` on ([^(]+)\(`-TimeoutSeconds` is an alias\)')
        $claim.Success | Should -BeTrue -Because 'the CHANGELOG says which cmdlets take -TimeoutSec'
        $named = [regex]::Matches($claim.Groups[1].Value, '\b[A-Z][a-z]+-Pack\w*').Value | Sort-Object
        $taking = Get-Command -Module Gopherpack | Where-Object { $_.Parameters.ContainsKey('TimeoutSec') }
        $taking.Name | Sort-Object | Should -Be $named
        foreach ($command in $taking) { $command.Parameters['TimeoutSec'].Aliases | Should -Contain 'TimeoutSeconds' }
    }
    It 'ships the gopherpack master that Start-Pack launches' {
        Test-Path (Join-Path (Get-Module Gopherpack).ModuleBase 'gopherpack') | Should -BeTrue
    }
}

Describe 'Test-PackManifest' {
    It 'accepts a valid manifest' { Test-PackManifest $manifest | Should -BeTrue }
    It 'rejects an invalid one with file:line:col warnings' {
        Test-PackManifest $invalid -WarningVariable warnings -WarningAction SilentlyContinue | Should -BeFalse
        $warnings.Message | Should -Contain "${invalid}:2:1: unknown key 'comand' in the manifest; did you mean 'command'?"
    }
}

Describe 'A pack driven by the cmdlets' {
    It 'Start-Pack fails with ManifestInvalid for an invalid manifest' {
        { Start-Pack -Manifest $invalid -RuntimeDir $rt -ErrorAction Stop } | Should -Throw -ErrorId 'ManifestInvalid*'
    }

    It 'Start-Pack returns the pack once every worker is ready' {
        $pack = Start-Pack -Manifest $manifest -RuntimeDir $rt
        $pack.Name | Should -Be 'pester'
        $pack.State | Should -Be 'Running'
        $pack.Ready | Should -Be 2
        $pack.PSObject.TypeNames[0] | Should -Be 'Gopherpack.Model.Pack'
        $script:url = 'http://' + ($pack.Listeners -replace '^http=tcp://', '') + '/'
        (Invoke-RestMethod $url).message | Should -Be 'Hello from Gopherpack'
    }

    It 'Get-Pack and Get-PackWorker list it, by name and by wildcard' {
        (Get-Pack -RuntimeDir $rt).Name | Should -Contain 'pester'
        (Get-Pack -Name 'pes*' -RuntimeDir $rt).Name | Should -Be 'pester'
        Get-Pack -Name 'nomatch*' -RuntimeDir $rt | Should -BeNullOrEmpty
        $workers = Get-PackWorker -Name 'pest?r' -RuntimeDir $rt
        $workers.Count | Should -Be 2
        $workers.State | Should -Be @('Ready', 'Ready')
        $workers | ForEach-Object { $_.Pid | Should -BeGreaterThan 0 }
        $workers[0].PSObject.TypeNames[0] | Should -Be 'Gopherpack.Model.PackWorker'
    }

    It 'Invoke-PackReload returns a ReloadResult for a good reload' {
        $result = Invoke-PackReload -Name pester -RuntimeDir $rt -ErrorAction Stop
        $result.Succeeded | Should -BeTrue
        $result.Generation | Should -Be 2
        (Invoke-PackReload -Name pester -Strategy Rolling -RuntimeDir $rt).Generation | Should -Be 3
        (Get-PackWorker -Name pester -RuntimeDir $rt | Where-Object State -eq Ready).Generation | Should -Be @(3, 3)
    }

    It 'a failed reload is a terminating PackReloadFailed error and the old workers keep serving' {
        # Only the serving generation: workers of the previous reload may still be Draining (and then gone).
        $before = (Get-PackWorker -Name pester -RuntimeDir $rt | Where-Object State -eq Ready).Pid
        { Invoke-PackReload -Name pester -Manifest $broken -RuntimeDir $rt -ErrorAction Stop } | Should -Throw -ErrorId 'PackReloadFailed*'
        try { Invoke-PackReload -Name pester -Manifest $broken -RuntimeDir $rt -ErrorAction Stop } catch { $_.Exception.Message | Should -Match 'cannot open the database' }
        (Get-PackWorker -Name pester -RuntimeDir $rt | Where-Object State -eq Ready).Pid | Sort-Object | Should -Be ($before | Sort-Object)
        (Invoke-RestMethod $url).message | Should -Be 'Hello from Gopherpack'
    }

    It 'a reload manifest that names another pack is ManifestInvalid, not PackBusy' {
        $other = Join-Path $work 'other.yml'
        (Get-Content $manifest) -replace '^name: pester$', 'name: other' | Set-Content $other
        { Invoke-PackReload -Name pester -Manifest $other -RuntimeDir $rt -ErrorAction Stop } | Should -Throw -ErrorId 'ManifestInvalid*'
    }

    It 'a pack that is not running is a PackNotRunning error' {
        { Get-PackWorker -Name nosuchpack -RuntimeDir $rt -ErrorAction Stop } | Should -Throw -ErrorId 'PackNotRunning*'
        { Invoke-PackReload -Name nosuchpack -RuntimeDir $rt -ErrorAction Stop } | Should -Throw -ErrorId 'PackNotRunning*'
    }

    It 'Stop-Pack -WhatIf stops nothing' {
        Stop-Pack -Name pester -RuntimeDir $rt -WhatIf
        (Get-Pack -Name pester -RuntimeDir $rt).State | Should -Be 'Running'
    }

    It 'Get-PackWorker | Stop-Pack stops the pack and leaves no process behind' {
        $pids = (Get-PackWorker -Name pester -RuntimeDir $rt).Pid + (Get-Pack -Name pester -RuntimeDir $rt).MasterPid
        $stopped = Get-PackWorker -Name pester -RuntimeDir $rt | Stop-Pack -RuntimeDir $rt -Confirm:$false -PassThru
        @($stopped).Count | Should -Be 1
        $stopped.State | Should -Be 'Stopped'
        foreach ($id in $pids) { Get-Process -Id $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
        Get-Pack -RuntimeDir $rt | Should -BeNullOrEmpty
        Test-Path (Join-Path $rt 'pester.sock') | Should -BeFalse
    }
}

Describe 'Start-Pack -Wait in a background job' {
    It 'runs until Stop-Job, which stops the pack gracefully' {
        $jobManifest = Join-Path $work 'job.yml'
        (Get-Content $manifest) -replace '^name: pester$', 'name: pesterjob' | Set-Content $jobManifest
        $psd1 = Join-Path (Get-Module Gopherpack).ModuleBase 'Gopherpack.psd1'
        $job = Start-Job { Import-Module $using:psd1; Start-Pack -Manifest $using:jobManifest -RuntimeDir $using:rt -Wait }
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not ($pack = Get-Pack -Name pesterjob -RuntimeDir $rt -ErrorAction SilentlyContinue | Where-Object Ready -eq 2)) {
                if ($job.State -ne 'Running') { throw "the job ended ($($job.State)) before the pack was ready: $($job.ChildJobs[0].JobStateInfo.Reason) $(Receive-Job $job 2>&1 | Out-String)" }
                if ([DateTime]::UtcNow -gt $deadline) { throw 'the pack of the job was not ready within 60 s' }
                Start-Sleep -Milliseconds 200
            }
            $pids = @($pack.MasterPid) + (Get-PackWorker -Name pesterjob -RuntimeDir $rt).Pid
            $jobUrl = 'http://' + ($pack.Listeners -replace '^http=tcp://', '') + '/'
            (Invoke-RestMethod $jobUrl).message | Should -Be 'Hello from Gopherpack'
            # Where the master logged to the job's stderr, the job failed about 2 s after start.
            Start-Sleep -Seconds 3
            $job.State | Should -Be 'Running'
            (Invoke-RestMethod $jobUrl).message | Should -Be 'Hello from Gopherpack'

            Stop-Job $job
            $job.State | Should -Be 'Stopped'
            Get-Pack -RuntimeDir $rt | Where-Object Name -eq pesterjob | Should -BeNullOrEmpty
            foreach ($id in $pids) { Get-Process -Id $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
            $log = Get-Content (Join-Path $rt 'pesterjob.log') -Raw
            $log | Should -Match 'Drain finished'
            $log | Should -Match 'master exiting with code 0'
        }
        finally {
            Stop-Job $job -ErrorAction SilentlyContinue
            Remove-Job $job -Force -ErrorAction SilentlyContinue
            Stop-Pack -Name pesterjob -RuntimeDir $rt -Confirm:$false -ErrorAction SilentlyContinue
        }
    }
}
