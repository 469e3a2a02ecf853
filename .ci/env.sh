#!/usr/bin/env bash
# Build (or reuse) the Python environment for this checkout and print its bin folder.
#   .ci/env.sh [--system] [--lock FILE] [--python X.Y] [--upgrade "PKG..."]
#     --system   also install the Debian packages the tests use (espeak-ng, sox, chromium)
#     --lock     the pinned dependency closure to install (default requirements.lock)
#     --python   the interpreter version the lock was resolved for (default 3.11)
#     --upgrade  then upgrade these packages to the newest versions pyproject's ranges admit
#                (re-resolved once a day: what a user installing today would get)
# Two layers, so that a fresh clone is ready in seconds and two clones never run each other's code:
#  - base: the locked packages, outside the clone and shared by every clone, keyed by the lock and
#    the interpreter: $HARMONY_BENCH_ENV_CACHE/<hash>. It never holds this project.
#  - overlay: a small venv inside this clone (.venv-hb/<lock>/) that sees the base's packages and
#    holds this clone's editable install and the `harmony-bench` command.
set -euo pipefail
cd "$(dirname "$0")/.."

system=0 lock=requirements.lock pyver=3.11 upgrade=""
while (($#)); do
    case "$1" in
        --system) system=1; shift ;;
        --lock) lock=$2; shift 2 ;;
        --python) pyver=$2; shift 2 ;;
        --upgrade) upgrade=$2; shift 2 ;;
        *) echo "usage: .ci/env.sh [--system] [--lock FILE] [--python X.Y] [--upgrade \"PKG...\"]" >&2; exit 2 ;;
    esac
done
[[ -f "$lock" ]] || { echo "no lock file $lock" >&2; exit 2; }

if ((system)); then
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

# A pyenv shim on PATH may exist without being selected, so try each candidate before using it.
find_python() {
    local c
    for c in "${HARMONY_BENCH_PYTHON:-}" "python$1" "$(pyenv root 2>/dev/null)"/versions/"$1".*/bin/"python$1" \
             /usr/bin/"python$1" /usr/local/bin/"python$1"; do
        if [[ -n "$c" ]] && "$c" -c "import sys; assert sys.version.startswith('$1.')" 2>/dev/null; then
            command -v "$c"
            return
        fi
    done
    echo "Python $1 not found (install it, or set HARMONY_BENCH_PYTHON)" >&2
    exit 1
}
PY=$(find_python "$pyver")

SETUPTOOLS=setuptools==84.2.1  # the overlay's editable install builds with the base's setuptools
key=$( { cat "$lock"; echo "$SETUPTOOLS"; "$PY" -c "import sys; print(sys.version)"; echo base-v2
         [[ -z "$upgrade" ]] || echo "upgrade $upgrade $(date -u +%F)"; } | sha256sum | cut -c1-16)
root=${HARMONY_BENCH_ENV_CACHE:-$HOME/.cache/harmony-bench/envs}
base="$root/$key"
if [[ ! -f "$base/.complete" ]]; then
    echo "building the environment in $base ($lock, Python $pyver; first time for this lock: a few minutes)" >&2
    rm -rf "$base"
    mkdir -p "$root"
    "$PY" -m venv "$base"
    log="$base.log"
    start=$SECONDS
    if ! { "$base/bin/pip" install "$SETUPTOOLS" && "$base/bin/pip" install -r "$lock" \
           && { [[ -z "$upgrade" ]] || "$base/bin/pip" install --upgrade $("$base/bin/python" .ci/ranges.py $upgrade); }; } >"$log" 2>&1; then
        grep -v "is neither a file nor a directory" "$log" | tail -30 >&2
        echo "environment build failed; full log: $log" >&2
        exit 1
    fi
    echo "built in $((SECONDS - start)) s" >&2
    [[ -z "$upgrade" ]] || "$base/bin/pip" list 2>/dev/null | grep -iE "^($(tr ' ' '|' <<<"$upgrade")) " >&2 || true
    touch "$base/.complete"
fi

overlay="$PWD/.venv-hb/$(basename "$lock" .lock)${upgrade:+-upgraded}"
stamp="$base $(sha256sum pyproject.toml | cut -c1-16) $PWD"
if [[ "$(cat "$overlay/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$overlay"
    "$base/bin/python" -m venv --without-pip "$overlay"
    site=$("$overlay/bin/python" -c "import sysconfig; print(sysconfig.get_path('purelib'))")
    base_site=$("$base/bin/python" -c "import sysconfig; print(sysconfig.get_path('purelib'))")
    # Executed at start-up: the base's packages (and their .pth files) come after the overlay's own.
    echo "import site; site.addsitedir('$base_site')" >"$site/_harmony_bench_base.pth"
    if ! "$overlay/bin/python" -m pip install --no-deps --no-build-isolation -e . >"$overlay.log" 2>&1; then
        grep -v "is neither a file nor a directory" "$overlay.log" | tail -30 >&2
        exit 1
    fi
    echo "$stamp" >"$overlay/.stamp"
fi
echo "$overlay/bin"
