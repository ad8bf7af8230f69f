#!/usr/bin/env bash
# Packs what the GPU device check needs on a machine with no Node, no npm and no network into one
# xz-compressed file under 60 MiB, in the git-ignored folder .device-pack/ (carry that folder):
#   bin/node                         this machine's Node (a standalone linux-x64 binary, stripped)
#   app/merge-lab.mjs                the CLI, bundled into plain JavaScript (bench/device/bundle.ts)
#   app/device-check.mjs             the device check's steps (bench/device/main.ts), bundled
#   app/node_modules/webgpu          Dawn's dawn.node for linux-x64 and its loader
#   app/node_modules/onnxruntime-web the parts Node loads: ort.node / ort.webgpu bundles, their wasm
#   debs/*.deb                       Debian's Vulkan loader (libvulkan1) and the X11/glvnd libraries
#                                    NVIDIA's Vulkan driver links against, installed only when missing
#   lib-fallback/                    libstdc++ and libgcc_s, used only when the system's are too old
#   MANIFEST                         commit, versions, sizes
# Run here, from the repository, with node_modules installed:  bash bench/device-pack.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${DEVICE_PACK_DIR:-$ROOT/.device-pack}"
PACK="$OUT_DIR/merge-lab-device.tar.xz"
LIMIT=$((60 * 1024 * 1024))
DEBS=(libvulkan1 libx11-6 libxext6 libglvnd0 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)
die() { echo "device-pack: $*" >&2; exit 1; }

cd "$ROOT"
STAGE_PARENT="$(mktemp -d "${TMPDIR:-/tmp}/merge-lab-pack.XXXXXX")"
trap 'rm -rf "$STAGE_PARENT"' EXIT
STAGE="$STAGE_PARENT/merge-lab-device"
mkdir -p "$STAGE"/{bin,app,debs,lib-fallback}

# Node: must be a linux-x64 ELF that needs nothing but glibc, libstdc++ and libgcc_s (a distribution's
# node linked against libnode.so would not run elsewhere).
NODE="$(readlink -f "$(command -v node || die 'no node on PATH')")"
head -c 20 "$NODE" | od -An -tx1 | tr -d ' \n' | grep -q '^7f454c4602' || die "$NODE is not a 64-bit ELF binary"
[ "$(node -p process.arch)" = x64 ] && [ "$(node -p process.platform)" = linux ] || die 'node is not linux-x64'
NODE_LIBS="$(ldd "$NODE" | awk '/=>/ {print $1}' | sort | tr '\n' ' ')"
for lib in $NODE_LIBS; do
  case "$lib" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libstdc++.so.*|libgcc_s.so.*|linux-vdso.so.*) ;;
    *) die "$NODE needs $lib, which the GPU machine may not have: use a standalone Node build (nodejs.org, NodeSource)" ;;
  esac
done
strip -o "$STAGE/bin/node" "$NODE" 2>/dev/null || cp "$NODE" "$STAGE/bin/node"
chmod 755 "$STAGE/bin/node"
"$STAGE/bin/node" -e '0' || die 'the stripped node does not run'

# JavaScript: the CLI and the device check, bundled; the two native/wasm packages beside them.
npx --no-install tsx bench/device/bundle.ts "$STAGE/app"
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || die "$DAWN is missing: install the optional 'webgpu' package (npm install)"
mkdir -p "$STAGE/app/node_modules/webgpu/dist/linux-x64" "$STAGE/app/node_modules/onnxruntime-web/dist"
cp node_modules/webgpu/{package.json,index.js,LICENSE.md} "$STAGE/app/node_modules/webgpu/"
cp "$DAWN" "$STAGE/app/node_modules/webgpu/dist/linux-x64/"
ORT=node_modules/onnxruntime-web
cp "$ORT/package.json" "$ORT/LICENSE" "$STAGE/app/node_modules/onnxruntime-web/" 2>/dev/null ||
  cp "$ORT/package.json" "$STAGE/app/node_modules/onnxruntime-web/"
# Node resolves `onnxruntime-web` to ort.node.min.mjs (wasm EP) and `onnxruntime-web/webgpu` to
# ort.webgpu.bundle.min.mjs; each loads its own glue and wasm from this folder.
for f in ort.node.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm \
  ort.webgpu.bundle.min.mjs ort-wasm-simd-threaded.asyncify.mjs ort-wasm-simd-threaded.asyncify.wasm; do
  cp "$ORT/dist/$f" "$STAGE/app/node_modules/onnxruntime-web/dist/"
done

# System libraries the GPU machine may lack: the Vulkan loader, and what NVIDIA's Vulkan driver
# (libGLX_nvidia.so.0) links against. The runner installs each only when the system has none.
(cd "$STAGE/debs" && apt-get download "${DEBS[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for d in "${DEBS[@]}"; do ls "$STAGE/debs/${d}_"*.deb >/dev/null 2>&1 || die "apt-get download $d failed"; done
for lib in libstdc++.so.6 libgcc_s.so.1; do
  cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')" "$STAGE/lib-fallback/$lib"
done

{
  echo "merge-lab device pack"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src bench tools shaders 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "node: $("$STAGE/bin/node" --version); needs: $NODE_LIBS"
  echo "webgpu: $(node -p "require('./node_modules/webgpu/package.json').version")"
  echo "onnxruntime-web: $(node -p "require('./$ORT/package.json').version")"
  echo "debs: $(cd "$STAGE/debs" && ls | tr '\n' ' ')"
  echo "files:"
  (cd "$STAGE" && find . -type f -printf '  %P %s\n' | sort)
} >"$STAGE/MANIFEST"

mkdir -p "$OUT_DIR"
rm -f "$PACK.partial"
echo "device-pack: compressing with xz -9 (about a minute per core)…" >&2
tar -C "$STAGE_PARENT" --sort=name --owner=0 --group=0 --numeric-owner -cf - merge-lab-device |
  xz -9 -T0 >"$PACK.partial"
SIZE=$(stat -c %s "$PACK.partial")
[ "$SIZE" -le "$LIMIT" ] || die "the pack is $((SIZE / 1048576)) MiB, over the 60 MiB limit"
mv "$PACK.partial" "$PACK"
sha256sum "$PACK" | awk '{print $1}' >"$PACK.sha256"
cp "$STAGE/MANIFEST" "$OUT_DIR/MANIFEST"
RAW=$(du -sb "$STAGE" | cut -f1)
echo "device-pack: $PACK: $(awk -v s="$SIZE" 'BEGIN {printf "%.1f", s / 1048576}') MiB compressed ($(awk -v s="$RAW" 'BEGIN {printf "%.0f", s / 1048576}') MiB unpacked)"
echo "device-pack: carry '.device-pack' and run there: bash bench/device-run.sh"
