#!/usr/bin/env bash
# The deploy path, offline: `sam build` of one function (arm64, through cargo-lambda + zig, as
# `sam deploy` would package it), then the bootstrap's size and architecture. FUNCTION picks the
# template resource (default SettingsFunction).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash infra/scripts/dev-setup.sh >/dev/null
export PATH="$root/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
function="${FUNCTION:-SettingsFunction}"

# cargo-lambda installs the aarch64 standard library by itself; doing it first says clearly why
# the build cannot start when rustup's server is out of reach.
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi
sam build "$function" --template template.yaml --build-dir .aws-sam/build
bootstrap=".aws-sam/build/$function/bootstrap"
[[ -x "$bootstrap" ]] || { echo "sam build made no $bootstrap"; exit 1; }
arch="$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')" # ELF e_machine, little endian
[[ "$arch" == "b700" ]] || { echo "$bootstrap is not aarch64 (e_machine $arch)"; exit 1; }
bytes="$(stat -c %s "$bootstrap")"
echo "sam build $function: $bootstrap is aarch64, $bytes bytes ($(awk "BEGIN{printf \"%.1f\", $bytes/1048576}") MiB)"
