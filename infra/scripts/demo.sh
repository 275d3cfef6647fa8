#!/usr/bin/env bash
# Sets up the dev tools and runs the local stack demo: embedded DynamoDB, local secrets, every
# function at a local URL, a seeded demo tenant, and a signed call to each demo function.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash infra/scripts/dev-setup.sh
export PATH="$root/.venv/bin:$PATH"
exec cargo run --quiet -p local-stack -- demo "$@"
