#!/usr/bin/env bash
# Runs bench/device-run.sh as the GPU machine would, here: in a copy of the git working tree (tracked
# and untracked-but-not-ignored files, as the run tool sends it) plus the carried .device-pack, with
# an empty environment (env -i) and a PATH holding only basic tools and Python: no node, no npm, no
# node_modules. DEVICE_*, VK_ICD_FILENAMES and OUT pass through. The copy is removed afterwards.
#   bash bench/device/simulate-target.sh [--quick]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -f "$ROOT/.device-pack/merge-lab-device.tar.xz" ] || { echo "no .device-pack: run bash bench/device-pack.sh" >&2; exit 2; }
SIM="$(mktemp -d "${TMPDIR:-/tmp}/merge-lab-target.XXXXXX")"
trap 'rm -rf "$SIM"' EXIT
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SIM/" 2>/dev/null || true)
cp -r "$ROOT/.device-pack" "$SIM/.device-pack"
mkdir -p "$SIM/.bin"
for tool in bash sh env cat date mkdir rm ls grep sed awk tr cut sort head tail tee wc od xargs chmod cp mv \
  cksum timeout nproc ldd ldconfig uname python3; do
  p="$(command -v "$tool" || true)"
  case "$tool" in python3) p=/usr/bin/python3 ;; esac # the system's, with Debian's torch
  [ -n "$p" ] && ln -s "$(readlink -f "$p")" "$SIM/.bin/$tool"
done
# ldd is a script run by its #! shell; ldconfig may live in /sbin.
[ -e "$SIM/.bin/ldconfig" ] || ln -s /sbin/ldconfig "$SIM/.bin/ldconfig"
ENV=(PATH="$SIM/.bin" HOME="$SIM/home" TMPDIR="${TMPDIR:-/tmp}")
for v in $(compgen -e | grep -E '^(DEVICE_|VK_ICD_FILENAMES$|OUT$)' || true); do ENV+=("$v=${!v}"); done
mkdir -p "$SIM/home"
cd "$SIM"
! env -i "${ENV[@]}" bash -c 'command -v node || command -v npm' || { echo "node is still reachable" >&2; exit 2; }
[ ! -e node_modules ] || { echo "node_modules was copied" >&2; exit 2; }
env -i "${ENV[@]}" bash bench/device-run.sh "$@"
