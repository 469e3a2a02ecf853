#!/usr/bin/env bash
# Build (or reuse) the Python environment for this checkout and print its bin folder.
# The environment lives outside the clone, keyed by the dependency spec (requirements.lock, the
# pinned closure of pyproject.toml's dependencies), so a fresh clone reuses it in seconds.
#   .ci/env.sh            python environment only
#   .ci/env.sh --system   also install the Debian packages the tests use (espeak-ng, sox, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--system" ]]; then
    missing=()
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
    command -v sox >/dev/null || missing+=(sox)
    command -v chromium >/dev/null || missing+=(chromium)
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "installing ${missing[*]} (apt)" >&2
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2 \
                || echo "warning: could not install ${missing[*]}; tests needing them will skip and say why" >&2
        else
            echo "warning: ${missing[*]} not installed and apt-get not usable; tests needing them will skip" >&2
        fi
    fi
fi

PY=${HARMONY_BENCH_PYTHON:-python3.11}
key=$(sha256sum requirements.lock | cut -c1-16)  # the lock is the whole dependency spec
root=${HARMONY_BENCH_ENV_CACHE:-$HOME/.cache/harmony-bench/envs}
venv="$root/$key"
if [[ ! -f "$venv/.complete" ]]; then
    echo "building the environment in $venv (first time for this dependency spec; a few minutes)" >&2
    rm -rf "$venv"
    mkdir -p "$root"
    "$PY" -m venv "$venv"
    log="$venv.log"
    if ! { "$venv/bin/pip" install "setuptools==84.2.1" && "$venv/bin/pip" install -r requirements.lock; } >"$log" 2>&1; then
        grep -v "is neither a file nor a directory" "$log" | tail -30 >&2
        echo "environment build failed; full log: $log" >&2
        exit 1
    fi
    touch "$venv/.complete"
fi
# Point the environment at this checkout (cheap; also registers the console script).
if ! "$venv/bin/pip" install --no-deps --no-build-isolation -e . >"$venv.editable.log" 2>&1; then
    grep -v "is neither a file nor a directory" "$venv.editable.log" | tail -30 >&2
    exit 1
fi
echo "$venv/bin"
