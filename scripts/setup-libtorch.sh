#!/usr/bin/env bash
# Installs libtorch for this checkout, if it is not there yet: torch==2.4.0 from PyPI into the
# project-local virtualenv .venv (about 5 GB with the CUDA libraries the wheel links against),
# then points .libtorch at its torch/ folder, where .cargo/config.toml tells tch to look.
# Safe to run again: it does nothing when the right torch is already installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
python=${PYTHON:-python3}
torch_version=2.4.0

have_torch() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$torch_version" <<'PY' 2>/dev/null
import importlib.metadata, sys
sys.exit(importlib.metadata.version("torch").split("+")[0] != sys.argv[1])
PY
}

if ! have_torch; then
    command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3 with pip and venv" >&2; exit 1; }
    echo "setup: installing torch==$torch_version into $venv (about 5 GB, a minute or two)" >&2
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check -q "torch==$torch_version"
fi
torch_dir=$("$venv/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torch").origin))')
[ -f "$torch_dir/lib/libtorch_cpu.so" ] || { echo "setup: $torch_dir has no lib/libtorch_cpu.so" >&2; exit 1; }
ln -sfn "$torch_dir" "$root/.libtorch"
