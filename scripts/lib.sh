# Shared helpers for the project's scripts: install what is missing, once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_UPDATED=0

# apt_ensure PKG...: installs the Debian packages that are not installed yet.
apt_ensure() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ "$APT_UPDATED" -eq 0 ]; then
    echo "apt: updating package lists" >&2
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  echo "apt: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm_ensure: installs the npm packages from the lockfile when node_modules is missing or stale.
npm_ensure() {
  cd "$ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "npm: installing packages (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
  fi
}
