#!/usr/bin/env bash
# Proves the README's "real binaries locally" path: `local-stack serve --for-cargo-lambda` writes
# the environment, `cargo lambda watch` runs the real settings binary with it, and a signed link
# through cargo-lambda's function URL emulator reads the demo tenant's settings (200).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash infra/scripts/dev-setup.sh >/dev/null
export PATH="$root/.venv/bin:$PATH"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-0}"
local_stack="${CARGO_TARGET_DIR:-$root/target}/debug/local-stack"

dir="$(mktemp -d)"
stack_port="${STACK_PORT:-9391}" watch_port="${WATCH_PORT:-9392}"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    pkill -f "/debug/settings$" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

cargo build --quiet -p local-stack
LOCAL_STACK_DIR="$dir" LOCAL_STACK_LISTEN="127.0.0.1:$stack_port" \
    "$local_stack" serve --for-cargo-lambda "$dir/cargo-lambda.env" >"$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do [[ -s "$dir/cargo-lambda.env" ]] && break; sleep 1; done
[[ -s "$dir/cargo-lambda.env" ]] || { cat "$dir/serve.log"; echo "local-stack serve wrote no env file"; exit 1; }

cargo lambda watch --quiet -A 127.0.0.1 -P "$watch_port" --env-file "$dir/cargo-lambda.env" >"$dir/watch.log" 2>&1 &
pids+=($!)

# The first call compiles the function; links are re-signed on every try (they live 5 minutes).
status=000
for _ in $(seq 60); do
    link="$(LOCAL_STACK_DIR="$dir" "$local_stack" links --base "http://127.0.0.1:$watch_port/lambda-url" | sed -n 2p | tr -d ' ')"
    status="$(curl -s -o "$dir/answer.json" -w '%{http_code}' -m 600 -H 'accept: application/json' "$link" || true)"
    [[ "$status" == 200 ]] && break
    sleep 5
done
if [[ "$status" != 200 ]] || ! grep -q '"Settings version' "$dir/answer.json"; then
    echo "cargo lambda watch: settings answered $status"; cat "$dir/answer.json" "$dir/watch.log" || true
    exit 1
fi
# The same call unsigned must be refused by the real binary.
unsigned="$(curl -s -o /dev/null -w '%{http_code}' -m 60 "http://127.0.0.1:$watch_port/lambda-url/settings/")"
[[ "$unsigned" == 401 ]] || { echo "unsigned call answered $unsigned, expected 401"; exit 1; }
echo "cargo lambda watch: the real settings binary read the local stack's settings (200), refused an unsigned call (401)"
