#Requires -Version 7.6
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The packages of out/packages as users get them: the module installed from a repository and imported by name
# (by the installing user, and from AllUsers scope by an account that cannot write the module folder), the
# worker library added to a fresh `dotnet new web` app outside the repository, the native archive run without
# .NET. Run after: dotnet build Gopherpack.slnx; ./build.ps1 -Task Package
# ($env:GOPHERPACK_TEST_PACKAGES may name another folder of packages).

BeforeDiscovery {
    # AllUsers installs into /usr/local/share/powershell/Modules (root only), and the pack then runs as nobody,
    # who must be able to run this pwsh (.ci/run installs it under /opt). Not over an installed module of this version.
    $props = Join-Path $PSScriptRoot '../../Directory.Build.props'
    $discoveredVersion = (Select-Xml -Path $props -XPath '/Project/PropertyGroup/Version').Node.InnerText
    $skipAllUsers = $true
    if ((id -u) -eq '0' -and (Get-Command setpriv -ErrorAction SilentlyContinue) -and -not (Test-Path "/usr/local/share/powershell/Modules/Gopherpack/$discoveredVersion")) {
        $pwshPath = (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
        setpriv --reuid=nobody --regid=nogroup --clear-groups $pwshPath -NoProfile -NonInteractive -Command 'exit 0' 2>$null
        $skipAllUsers = $LASTEXITCODE -ne 0
    }
}

BeforeAll {
    $root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:packages = if ($env:GOPHERPACK_TEST_PACKAGES) { $env:GOPHERPACK_TEST_PACKAGES } else { Join-Path $root 'out/packages' }
    $script:version = (Select-Xml -Path (Join-Path $root 'Directory.Build.props') -XPath '/Project/PropertyGroup/Version').Node.InnerText
    foreach ($file in "Gopherpack.$version.nupkg", "Gopherpack.Worker.$version.nupkg", "gopherpack-$version-linux-x64.tar.gz") {
        if (-not (Test-Path (Join-Path $packages $file))) { throw "$packages has no ${file}: run ./build.ps1 -Task Package first" }
    }
    # The pwsh executable (a dotnet tool's process is dotnet itself, so not this process's path).
    $script:pwsh = (Get-Command pwsh -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    # A folder every account can read (the AllUsers test runs a pack as nobody).
    $script:work = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "gp-packages-$([guid]::NewGuid().ToString('N').Substring(0, 8))")
    chmod 755 $work
    $script:hello = Join-Path $work 'hello'
    Copy-Item -Recurse (Join-Path $root 'examples/HelloHttp/bin/Debug/net10.0') $hello
    if (-not (Test-Path (Join-Path $hello 'HelloHttp.dll'))) { throw 'build the solution first: HelloHttp.dll is missing' }

    # Runs a script in a fresh pwsh that knows nothing of this session: its own HOME, XDG folders and module path,
    # so Install-PSResource -Scope CurrentUser and Register-PSResourceRepository touch only $home.
    # What the script writes to $env:GP_RESULT (JSON) is returned as an object.
    function script:Invoke-Fresh([string] $HomeDir, [string] $Script, [string[]] $As = @()) {
        $environment = @{
            HOME = $HomeDir; XDG_DATA_HOME = "$HomeDir/.local/share"; XDG_CACHE_HOME = "$HomeDir/.cache"; XDG_CONFIG_HOME = "$HomeDir/.config"
            PSModulePath = ''; PATH = $env:PATH; DOTNET_CLI_TELEMETRY_OPTOUT = '1'; DOTNET_NOLOGO = '1'; TMPDIR = "$HomeDir/tmp"
            GP_RESULT = "$HomeDir/tmp/result.json"
        }
        # .NET finds no LocalApplicationData unless the folder exists (PSResourceGet then writes to the working directory).
        New-Item -ItemType Directory -Force -Path "$HomeDir/tmp", "$HomeDir/.local/share", "$HomeDir/.cache", "$HomeDir/.config" | Out-Null
        $file = Join-Path $HomeDir "script-$([guid]::NewGuid().ToString('N')).ps1"
        Set-Content $file "`$ErrorActionPreference = 'Stop'`n$Script"
        chmod 644 $file
        $command = @($As) + @('env', '-i') + @($environment.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) + @($pwsh, '-NoProfile', '-NonInteractive', '-File', $file)
        Push-Location $HomeDir
        try { $output = & $command[0] $command[1..($command.Count - 1)] 2>&1 | ForEach-Object { "$_" } }
        finally { Pop-Location }
        if ($LASTEXITCODE -ne 0) { throw "pwsh exited $LASTEXITCODE`n$($output -join "`n")" }
        if (-not (Test-Path "$HomeDir/tmp/result.json")) { throw "the script wrote no result`n$($output -join "`n")" }
        Get-Content "$HomeDir/tmp/result.json" -Raw | ConvertFrom-Json
    }

    $script:manifestYaml = @"
command: dotnet
args: ["$hello/HelloHttp.dll"]
workers: 2
listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
stop: { timeout: 10s }
"@
    # The lines of README's PowerShell section, by name; they print what the test checks.
    $script:readmeLines = @'
Import-Module Gopherpack
$module = Get-Module Gopherpack
$shipped = Join-Path $module.ModuleBase 'gopherpack'
$pack = Start-Pack -Manifest $manifest -RuntimeDir $rt
$url = 'http://' + ($pack.Listeners -replace '^http=tcp://', '') + '/'
$message = (Invoke-RestMethod $url).message
$workers = Get-PackWorker -Name $pack.Name -RuntimeDir $rt
$reload = Invoke-PackReload -Name $pack.Name -RuntimeDir $rt
$valid = Test-PackManifest $manifest -RuntimeDir $rt
$masterExe = (Get-Process -Id $pack.MasterPid).Path
Stop-Pack -Name $pack.Name -RuntimeDir $rt
$left = @(Get-Pack -RuntimeDir $rt).Count
[pscustomobject]@{
    Version = "$($module.Version)"; ModuleBase = $module.ModuleBase; Ready = $pack.Ready; Message = $message
    Workers = @($workers).Count; Reloaded = $reload.Succeeded; Valid = $valid; Left = $left; MasterExe = $masterExe
    ShippedMode = [int][IO.File]::GetUnixFileMode($shipped); Writable = $writable
} | ConvertTo-Json -Compress | Set-Content $env:GP_RESULT
'@
}

AfterAll {
    if ($work) { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }
}

Describe 'The module package' {
    It 'is the module as PSResourceGet packs it, with its licence, release notes and project links' {
        $nupkg = Join-Path $packages "Gopherpack.$version.nupkg"
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($nupkg)
        try {
            $names = $zip.Entries.FullName
            $names | Should -Contain 'Gopherpack.psd1'
            $names | Should -Contain 'gopherpack'
            $names | Should -Contain 'LICENSE'
            $nuspec = [xml]([IO.StreamReader]::new($zip.GetEntry('Gopherpack.nuspec').Open()).ReadToEnd())
        }
        finally { $zip.Dispose() }
        $nuspec.package.metadata.version | Should -Be $version
        $nuspec.package.metadata.projectUrl | Should -Not -BeNullOrEmpty
        $nuspec.package.metadata.licenseUrl | Should -Not -BeNullOrEmpty
        $nuspec.package.metadata.releaseNotes | Should -Match $version
        $nuspec.package.metadata.tags | Should -Match 'Linux'
    }

    It 'installs for the current user from a folder repository; Import-Module by name and the cmdlets work' {
        $userHome = Join-Path $work 'user'
        New-Item -ItemType Directory -Path $userHome | Out-Null
        Set-Content (Join-Path $userHome 'app.yml') "name: installed`n$manifestYaml"
        $result = Invoke-Fresh $userHome @"
Register-PSResourceRepository -Name gp-local -Uri '$packages' -Trusted
Install-PSResource Gopherpack -Repository gp-local -Version '$version' -Scope CurrentUser -Quiet
`$manifest = '$userHome/app.yml'; `$rt = '$userHome/rt'
$readmeLines
"@
        $result.Version | Should -Be $version
        $result.ModuleBase | Should -BeLike "$userHome/.local/share/powershell/Modules/Gopherpack/*"
        $result.Ready | Should -Be 2
        $result.Message | Should -Be 'Hello from Gopherpack'
        $result.Workers | Should -Be 2
        $result.Reloaded | Should -BeTrue
        $result.Valid | Should -BeTrue
        $result.Left | Should -Be 0
        # The package kept no execute bit: the master ran from the private copy.
        ($result.ShippedMode -band 73) | Should -Be 0
        $result.MasterExe | Should -Be "$userHome/.cache/gopherpack/$version/gopherpack"
        [int][IO.File]::GetUnixFileMode($result.MasterExe) | Should -Be 493   # 0755
    }

    It 'installs for all users; an account that cannot write the module folder imports it by name and runs a pack' -Skip:$skipAllUsers {
        $admin = Join-Path $work 'admin'
        try {
            $null = Invoke-Fresh $admin @"
Register-PSResourceRepository -Name gp-local -Uri '$packages' -Trusted
Install-PSResource Gopherpack -Repository gp-local -Version '$version' -Scope AllUsers -Quiet
'{}' | Set-Content `$env:GP_RESULT
"@
            $installed = "/usr/local/share/powershell/Modules/Gopherpack/$version"
            Test-Path (Join-Path $installed 'Gopherpack.psd1') | Should -BeTrue
            # nobody's HOME (/nonexistent) cannot be written: the private copy goes to its TMPDIR.
            $nobody = Join-Path $work 'nobody'
            New-Item -ItemType Directory -Path $nobody, "$nobody/tmp", "$nobody/.local/share", "$nobody/.cache", "$nobody/.config" | Out-Null
            Set-Content (Join-Path $nobody 'app.yml') "name: allusers`n$manifestYaml"
            chown -R nobody (Join-Path $nobody '.')
            $result = Invoke-Fresh $nobody -As setpriv, '--reuid=nobody', '--regid=nogroup', '--clear-groups' @"
`$env:HOME = '/nonexistent'; Remove-Item Env:XDG_CACHE_HOME
`$manifest = '$nobody/app.yml'; `$rt = '$nobody/rt'
`$writable = try { [IO.File]::WriteAllText('$installed/probe', ''); `$true } catch { `$false }
$readmeLines
"@
            $result.ModuleBase | Should -Be $installed
            $result.Ready | Should -Be 2
            $result.Message | Should -Be 'Hello from Gopherpack'
            $result.Left | Should -Be 0
            $result.Writable | Should -BeFalse
            $result.MasterExe | Should -Be "$nobody/tmp/gopherpack-cache-65534/$version/gopherpack"
        }
        finally {
            Remove-Item -Recurse -Force "/usr/local/share/powershell/Modules/Gopherpack/$version" -ErrorAction SilentlyContinue
            if (-not (Get-ChildItem /usr/local/share/powershell/Modules/Gopherpack -ErrorAction SilentlyContinue)) {
                Remove-Item -Force /usr/local/share/powershell/Modules/Gopherpack -ErrorAction SilentlyContinue
            }
        }
    }
}

Describe 'The worker package' {
    BeforeAll {
        $module = if ($env:GOPHERPACK_TEST_MODULE) { $env:GOPHERPACK_TEST_MODULE } else { Join-Path $root 'out/Gopherpack' }
        Import-Module (Join-Path $module 'Gopherpack.psd1') -Force
    }
    AfterAll { Remove-Module Gopherpack -ErrorAction SilentlyContinue }

    It 'joins a fresh dotnet new web app, outside the repository, to a pack: ready, serving, draining on stop' {
        $app = Join-Path $work 'PackedWeb'
        $env:NUGET_PACKAGES = Join-Path $work 'nuget'   # not the machine's cache: a rebuilt package of the same version must be used
        try {
            dotnet new web -o $app -n PackedWeb --no-restore 2>&1 | Out-String | Write-Verbose
            $LASTEXITCODE | Should -Be 0
            # Offline: the only package source is out/packages.
            Set-Content (Join-Path $app 'nuget.config') @"
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$packages" /></packageSources></configuration>
"@
            $added = dotnet add $app package Gopherpack.Worker --version $version 2>&1 | Out-String
            $LASTEXITCODE | Should -Be 0 -Because $added
            $program = Join-Path $app 'Program.cs'
            $code = Get-Content $program -Raw
            $code | Should -Match 'WebApplication.CreateBuilder\(args\);'
            $code -replace 'WebApplication.CreateBuilder\(args\);', "WebApplication.CreateBuilder(args);`nbuilder.WebHost.UseGopherpack();" | Set-Content $program
            # Warnings as errors, as many teams build: the public API takes no platform attribute (CA1416 on any OS).
            $built = dotnet build $app -c Release -warnaserror -o (Join-Path $app 'out') 2>&1 | Out-String
            $LASTEXITCODE | Should -Be 0 -Because $built
            $built | Should -Not -Match 'CA1416'

            $rt = Join-Path $work 'web-rt'
            $manifest = Join-Path $work 'web.yml'
            Set-Content $manifest @"
name: packedweb
command: dotnet
args: ["$app/out/PackedWeb.dll"]
workers: 2
listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
"@
            $pack = Start-Pack -Manifest $manifest -RuntimeDir $rt -TimeoutSec 90
            try {
                $pack.Ready | Should -Be 2
                (Get-PackWorker -Name packedweb -RuntimeDir $rt).State | Should -Be @('Ready', 'Ready')
                $url = 'http://' + ($pack.Listeners -replace '^http=tcp://', '') + '/'
                Invoke-RestMethod $url | Should -Be 'Hello World!'
            }
            finally {
                Stop-Pack -Name packedweb -RuntimeDir $rt -Confirm:$false
            }
            $log = Get-Content (Join-Path $rt 'packedweb.log') -Raw
            ([regex]::Matches($log, 'Drain finished')).Count | Should -Be 2
            ([regex]::Matches($log, 'worker stopped \(exit code 0\)')).Count | Should -Be 2
        }
        finally {
            Remove-Item Env:NUGET_PACKAGES
        }
    }
}

Describe 'The release archive' {
    It 'holds the native gopherpack, LICENSE, README, the docs and the systemd units, and runs without .NET' {
        $unpacked = Join-Path $work 'archive'
        New-Item -ItemType Directory -Path $unpacked | Out-Null
        tar -C $unpacked -xzf (Join-Path $packages "gopherpack-$version-linux-x64.tar.gz")
        $top = Join-Path $unpacked "gopherpack-$version-linux-x64"
        foreach ($file in 'gopherpack', 'LICENSE', 'README.md', 'CHANGELOG.md', 'docs/REFERENCE.md', 'docs/OPERATING.md', 'systemd/hello.service', 'systemd/hello-notify-reload.service', 'systemd/gopherpack@.service', 'systemd/hello.socket') {
            Test-Path (Join-Path $top $file) | Should -BeTrue -Because "the archive holds $file"
        }
        $exe = Join-Path $top 'gopherpack'
        ([int][IO.File]::GetUnixFileMode($exe) -band 73) | Should -Be 73
        # No .NET: no runtime library is needed, and it runs with no dotnet on PATH and no DOTNET_ variables.
        (readelf -d $exe | Select-String 'NEEDED') -join "`n" | Should -Not -Match 'coreclr|hostfxr|libdotnet'
        env -i PATH=/nonexistent $exe --version | Should -Be $version
        Set-Content (Join-Path $unpacked 'app.yml') "name: archived`ncommand: /bin/sh`nargs: [-c, 'exec sleep 60']`nlisteners: [{ name: tcp, address: `"tcp://127.0.0.1:0`" }]"
        env -i PATH=/nonexistent $exe validate (Join-Path $unpacked 'app.yml') | Should -Match ': ok'
        $LASTEXITCODE | Should -Be 0
    }

    It 'installs as docs/INSTALL.md says, where the units run it, and is the one build the module ships too' {
        # The steps of INSTALL.md's archive section, run as written (VERSION filled in); into a temporary prefix
        # instead of /usr/local/bin when this account cannot write there or a gopherpack is already installed.
        $install = Get-Content (Join-Path $root 'docs/INSTALL.md') -Raw
        $block = [regex]::Match($install, 'put the executable there \(as root\):\s*```sh\r?\n(.*?)```', 'Singleline')
        $block.Success | Should -BeTrue -Because 'docs/INSTALL.md says where the archive''s gopherpack goes'
        $steps = @($block.Groups[1].Value -split "`n" | ForEach-Object Trim | Where-Object { $_ })
        $steps | Should -Contain 'install -m 0755 gopherpack-VERSION-linux-x64/gopherpack /usr/local/bin/'
        foreach ($unit in Get-ChildItem (Join-Path $root 'docs/systemd') -Filter '*.service') {
            Get-Content $unit.FullName -Raw | Should -Match '(?m)^ExecStart=/usr/local/bin/gopherpack ' -Because "$($unit.Name) runs the installed gopherpack"
        }
        $bin = '/usr/local/bin'
        $system = (id -u) -eq '0' -and (Test-Path $bin -PathType Container) -and -not (Test-Path "$bin/gopherpack")
        if (-not $system) { $bin = New-Item -ItemType Directory -Path (Join-Path $work 'prefix/bin') -Force | ForEach-Object FullName }
        $steps = $steps | ForEach-Object { ($_ -creplace 'VERSION', $version) -replace ' /usr/local/bin/$', " $bin/" }
        $dir = New-Item -ItemType Directory -Path (Join-Path $work 'install') | ForEach-Object FullName
        Copy-Item (Join-Path $packages "gopherpack-$version-linux-x64.tar.gz") $dir
        try {
            $said = env -i "PATH=${bin}:/usr/bin:/bin" bash -euc "cd '$dir'`n$($steps -join "`n")" 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($said -join "`n")
            @($said)[-1] | Should -Be $version
            [int][IO.File]::GetUnixFileMode("$bin/gopherpack") | Should -Be 493   # 0755

            # The same file as the module package's master and out/native's: one publish.
            $installed = (Get-FileHash "$bin/gopherpack" -Algorithm SHA256).Hash
            Add-Type -AssemblyName System.IO.Compression.FileSystem
            $zip = [IO.Compression.ZipFile]::OpenRead((Join-Path $packages "Gopherpack.$version.nupkg"))
            try {
                $stream = $zip.GetEntry('gopherpack').Open()
                try { $inModule = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($stream)) } finally { $stream.Dispose() }
            }
            finally { $zip.Dispose() }
            $inModule | Should -Be $installed -Because 'the module package ships the archive''s gopherpack'
            if (-not $env:GOPHERPACK_TEST_PACKAGES -or (Resolve-Path $env:GOPHERPACK_TEST_PACKAGES).Path -eq (Join-Path $root 'out/packages')) {
                (Get-FileHash (Join-Path $root 'out/native/gopherpack') -Algorithm SHA256).Hash | Should -Be $installed -Because 'out/native holds the published gopherpack'
            }
        }
        finally {
            if ($system) { Remove-Item -Force "$bin/gopherpack" -ErrorAction SilentlyContinue }
        }
        if ($system) { Test-Path '/usr/local/bin/gopherpack' | Should -BeFalse -Because 'the test leaves nothing in /usr/local/bin' }
    }
}
