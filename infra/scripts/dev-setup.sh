#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver (apt) when missing, and creates .venv at the repository root with the pinned dev tools of requirements-dev.txt
# (cargo-lambda + zig, aws-sam-cli, cfn-lint, moto_server). Idempotent: does nothing when the
# venv already matches the requirements file. Put `.venv/bin` on PATH afterwards
# (`. .venv/bin/activate`); the other scripts do that themselves.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
requirements="$root/requirements-dev.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

# The screens' browser tests drive Debian's Chromium over WebDriver (tests/browser): both come
# from apt, never downloaded by a test tool at run time.
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    echo "dev-setup: installing Debian's chromium and chromium-driver (apt)"
    sudo_=""
    [[ "$(id -u)" == 0 ]] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

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
