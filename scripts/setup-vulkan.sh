#!/usr/bin/env bash
# Installs a Vulkan driver that Dawn (the `webgpu` npm package) accepts on a machine with no GPU:
# lavapipe from Mesa 25 (Debian bookworm-backports), unpacked into a project-local .cache/ dir.
# The system's apt sources are not changed: bookworm-backports is read through a PRIVATE apt
# configuration. Idempotent: a second run only prints the ICD path.
#
#   bash scripts/setup-vulkan.sh          # prints the ICD json path on its last line
#
# Nothing else to set: src/node/webgpu-env.ts points VK_ICD_FILENAMES at this ICD whenever it is
# unset (CLI, benchmarks, tests). Set VK_ICD_FILENAMES yourself only to pick another driver.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/vulkan"
ICD="$CACHE/lvp_icd.json"
MESA_DIR="$CACHE/mesa"
log() { echo "setup-vulkan: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# 1. System libraries from bookworm itself (the loader and the LLVM lavapipe links against).
missing=()
for pkg in libvulkan1 libllvm15; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 2. lavapipe from Mesa 25 (bookworm-backports), unpacked, never installed.
LVP="$(find "$MESA_DIR" -name 'libvulkan_lvp.so' 2>/dev/null | head -n1 || true)"
if [ -z "$LVP" ]; then
  APT="$CACHE/apt"
  mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc/preferences.d" "$APT/etc/apt.conf.d" "$CACHE/debs"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$APT/sources.list" <<EOF
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-backports main
EOF
  : >"$APT/status"
  OPTS=(
    -o "Dir::Etc::SourceList=$APT/sources.list"
    -o "Dir::Etc::SourceParts=-"
    -o "Dir::Etc::Parts=$APT/etc/apt.conf.d"
    -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::State::Status=$APT/status"
    -o "Dir::Cache=$APT"
    -o "Dir::Cache::Archives=$APT/archives"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
  )
  log "fetching the bookworm-backports package index (private apt config in $APT)"
  apt-get "${OPTS[@]}" update -qq >&2
  log "downloading mesa-vulkan-drivers from bookworm-backports"
  (cd "$CACHE/debs" && apt-get "${OPTS[@]}" download -t bookworm-backports mesa-vulkan-drivers >&2)
  DEB="$(ls -t "$CACHE/debs"/mesa-vulkan-drivers_*.deb | head -n1)"
  rm -rf "$MESA_DIR"
  dpkg-deb -x "$DEB" "$MESA_DIR"
  LVP="$(find "$MESA_DIR" -name 'libvulkan_lvp.so' | head -n1)"
  [ -n "$LVP" ] || { log "libvulkan_lvp.so not found in $DEB"; exit 1; }
  log "unpacked $(basename "$DEB")"
fi

# 3. The ICD json pointing at the unpacked driver.
cat >"$ICD.tmp" <<EOF
{
  "file_format_version": "1.0.1",
  "ICD": { "library_path": "$LVP", "api_version": "1.4.0" }
}
EOF
mv "$ICD.tmp" "$ICD"
echo "$ICD"
