#!/usr/bin/env bash
# Assembles what bench/throughput.py needs on a machine with no .NET SDK and no network (a many-core
# box lent for measurements): the .NET host and shared runtimes this build runs on, the Release builds
# of the master, HelloHttp and BenchHttp, wrk with its libluajit, and the bench scripts.
#
#   bash bench/bundle.sh [OUT]            # default OUT: out/bench-bundle (plus OUT.tar.xz, about 45 MiB)
# On the other machine (needs python3, taskset and setpriv from util-linux):
#   tar -xJf bench-bundle.tar.xz && bench-bundle/run.sh --server-cpus 0-11 --client-cpus 12-15 --connections 256
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/out/bench-bundle}"
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
wrk="$(command -v wrk)"

dotnet build -c Release "$root/Gopherpack.slnx" >/dev/null
rm -rf "$out" && mkdir -p "$out/dotnet" "$out/bin" "$out/lib" "$out/repo/bench/results"
cp "$dotnet_root/dotnet" "$out/dotnet/"
cp -r "$dotnet_root/host" "$out/dotnet/"
for fx in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
  version="$(ls "$dotnet_root/shared/$fx" | sort -V | tail -1)"
  mkdir -p "$out/dotnet/shared/$fx" && cp -r "$dotnet_root/shared/$fx/$version" "$out/dotnet/shared/$fx/"
done
for project in src/Gopherpack.Cli examples/HelloHttp bench/BenchHttp; do
  mkdir -p "$out/repo/$project/bin/Release" && cp -r "$root/$project/bin/Release/net10.0" "$out/repo/$project/bin/Release/"
done
cp "$root"/bench/*.py "$out/repo/bench/"
cp "$wrk" "$out/bin/wrk"
ldd "$wrk" | awk '/luajit/ { print $3 }' | xargs -r -I{} cp -L {} "$out/lib/"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs bench/throughput.py from this bundle: its own dotnet, wrk and Release builds; no SDK, no network.
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="$here/dotnet:$here/bin:$PATH" DOTNET_ROOT="$here/dotnet" LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GOPHERPACK_BENCH_PREBUILT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec python3 "$here/repo/bench/throughput.py" "$@"
RUN
chmod +x "$out/run.sh"
tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
echo "bundle: $out ($(du -sh "$out" | cut -f1)), $out.tar.xz ($(du -sh "$out.tar.xz" | cut -f1))"
