#!/usr/bin/env bash
# Creates .venv-interop with the Python packages the interoperability tests talk to:
# PyMessagingFramework (the tutorial's pin ^1.1.0 resolves to 1.1.0; the wire format is the same
# in every release) and Nameko 2.14.1. Quick when they are already there. Prints the venv's python.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${INTEROP_VENV:-$repo/.venv-interop}
want="pymessagingframework==1.1.0 nameko==2.14.1 pyyaml"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >&2; then
    # Debian's python3 needs python3-venv for ensurepip.
    rm -rf "$venv"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv" >&2
  fi
fi
if ! "$venv/bin/python" -c 'import PyMessagingFramework.framework, nameko, yaml' 2>/dev/null; then
  echo "interop: installing $want into $venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check $want >&2
fi
echo "$venv/bin/python"
