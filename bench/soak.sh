#!/usr/bin/env bash
# The full-length fault soaks (CI runs shorter ones): 30 s of random worker kills under load,
# 300 reloads in a row, 20,000 mutated manifests. Prints each test's measured figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOPHERPACK_SOAK_SECONDS=${GOPHERPACK_SOAK_SECONDS:-30} GOPHERPACK_SOAK_RELOADS=${GOPHERPACK_SOAK_RELOADS:-300} GOPHERPACK_FUZZ_CASES=${GOPHERPACK_FUZZ_CASES:-20000}
dotnet test Gopherpack.slnx --filter "FullyQualifiedName~Faults" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "worker kills|reloads: after|mutated manifests|Passed!|Failed!|Test Run|Total tests|^\s+Failed "
