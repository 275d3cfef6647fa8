#!/usr/bin/env bash
# The benchmark (README, "Benchmarks"): Autotask calls and latency per operation, cold start,
# peak memory, bulk-sync throughput, binary size and the tenant-wide limiter's cost, as one table; JSON in target/bench/results.json.
# Usage: infra/scripts/bench.sh [--quick] [--only calls,latency,cold,memory,bulk,size,limiter] [--out PATH]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# cargo-lambda (arm64 sizes) comes from the dev venv when it is there; without it the sizes are
# host release sizes and the table says so.
if [[ -d "$root/.venv/bin" ]]; then
    export PATH="$root/.venv/bin:$PATH"
fi
exec cargo run --release --quiet -p bench -- "$@"
