#!/usr/bin/env bash
# Creates .venv at the repository root with the pinned dev tools of requirements-dev.txt
# (cargo-lambda + zig, aws-sam-cli, cfn-lint, moto_server). Idempotent: does nothing when the
# venv already matches the requirements file. Put `.venv/bin` on PATH afterwards
# (`. .venv/bin/activate`); the other scripts do that themselves.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
requirements="$root/requirements-dev.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "dev-setup: .venv is up to date"
    exit 0
fi

echo "dev-setup: installing $(grep -cv '^\s*\(#\|$\)' "$requirements") pinned tools into .venv"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -m pip check
echo "$wanted" >"$stamp"
echo "dev-setup: done ($("$venv/bin/cfn-lint" --version), $("$venv/bin/sam" --version))"
