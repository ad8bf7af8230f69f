#!/usr/bin/env bash
# The GPU device check, run on a machine with Python (CUDA PyTorch) but no Node, no npm and no
# network, from the working tree plus the carried .device-pack/ (made by bench/device-pack.sh):
#   bash bench/device-run.sh [--quick]
# 1. unpacks the pack (with Python's tarfile, or tar) into $DEVICE_WORK;
# 2. makes the Vulkan loader and the libraries NVIDIA's Vulkan driver links against loadable,
#    from the pack's .debs when the system has none (no root: unpacked, then LD_LIBRARY_PATH);
# 3. finds the NVIDIA Vulkan driver's ICD json (or the one named by VK_ICD_FILENAMES); without one,
#    the Vulkan loader's own search (a machine with only a software adapter runs unchanged);
# 4. stops with one line if Dawn finds no WebGPU adapter; otherwise measures, each step in its own
#    process with a time limit, within a total budget: the WGSL copy bandwidth, three generated
#    Qwen2.5-0.5B-shaped checkpoints, TA and TIES on the WebGPU backend and in PyTorch (CUDA) side
#    by side, decode tokens/s on onnxruntime-web's WebGPU EP in f32, f16 and q4;
# 5. prints a markdown report, also written to $OUT/device-check.md when OUT is set.
# Exit: 0 all steps ran, 1 some step failed or was skipped, 2 no pack / cannot start, 3 no adapter.
# Sizes and limits (environment; --quick: 6 layers, 16 new tokens, a 300 s budget):
#   DEVICE_LAYERS (24) DEVICE_VOCAB (151936) DEVICE_DTYPE (bf16: the merges) DEVICE_METHODS (ta,ties)
#   DEVICE_DECODE_DTYPE (f16: the decode runs' checkpoint; onnxruntime's WebGPU EP has no bf16 Cast)
#   DEVICE_WEIGHTS (f32,f16,q4) DEVICE_PROMPT_TOKENS (64) DEVICE_NEW_TOKENS (64) DEVICE_DECODE_REPS (2)
#   DEVICE_BANDWIDTH_MIB (1024) DEVICE_BUDGET_S (480) DEVICE_STEP_TIMEOUT_S (240)
#   DEVICE_WORK (${TMPDIR:-/tmp}/merge-lab-device) DEVICE_PACK (.device-pack/merge-lab-device.tar.xz)
#   DEVICE_PYTHON (the first python3/python with torch) DEVICE_FORCE_DEBS (1: use the pack's libraries)
set -uo pipefail
case "${BASH_SOURCE[0]}" in */*) HERE="${BASH_SOURCE[0]%/*}" ;; *) HERE=. ;; esac
ROOT="$(cd "$HERE/.." && pwd)"
QUICK=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device check: unknown option $a (--quick, --help)"; exit 2 ;;
  esac
done
say() { echo "device check: $*" >&2; }
stop() { echo "device check: FAILED: $2"; exit "$1"; }
START=$(date +%s)
elapsed() { echo $(($(date +%s) - START)); }

if [ "$QUICK" = 1 ]; then
  : "${DEVICE_LAYERS:=6}" "${DEVICE_NEW_TOKENS:=16}" "${DEVICE_BUDGET_S:=300}" "${DEVICE_DECODE_REPS:=1}"
fi
LAYERS=${DEVICE_LAYERS:-24} VOCAB=${DEVICE_VOCAB:-151936} DTYPE=${DEVICE_DTYPE:-bf16}
METHODS=${DEVICE_METHODS:-ta,ties} WEIGHTS=${DEVICE_WEIGHTS:-f32,f16,q4}
PROMPT_TOKENS=${DEVICE_PROMPT_TOKENS:-64} NEW_TOKENS=${DEVICE_NEW_TOKENS:-64} REPS=${DEVICE_DECODE_REPS:-2}
BW_MIB=${DEVICE_BANDWIDTH_MIB:-1024} BUDGET=${DEVICE_BUDGET_S:-480} STEP_LIMIT=${DEVICE_STEP_TIMEOUT_S:-240}
WORK="${DEVICE_WORK:-${TMPDIR:-/tmp}/merge-lab-device}"
PACK="${DEVICE_PACK:-$ROOT/.device-pack/merge-lab-device.tar.xz}"
DECODE_DTYPE=${DEVICE_DECODE_DTYPE:-f16}
RESULTS="$WORK/results" LOGS="$WORK/logs" DATA="$WORK/data/qwen-0.5b-$DTYPE-L$LAYERS-V$VOCAB"
DECODE_DATA="$WORK/data/qwen-0.5b-$DECODE_DTYPE-L$LAYERS-V$VOCAB"

[ -f "$PACK" ] || stop 2 "no pack at $PACK: run 'bash bench/device-pack.sh' where Node is, and carry .device-pack"
PY_ANY=""
for p in ${DEVICE_PYTHON:-} python3 python /usr/bin/python3; do command -v "$p" >/dev/null 2>&1 && { PY_ANY="$p"; break; }; done
mkdir -p "$WORK" && rm -rf "$RESULTS" "$LOGS" && mkdir -p "$RESULTS" "$LOGS" "$DATA" "$DECODE_DATA" || stop 2 "cannot write $WORK"
context() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS/context.tsv"; }

# 1. Unpack (again only when the pack changed).
APP="$WORK/pack/merge-lab-device"
SUM="$(cat "$PACK.sha256" 2>/dev/null || cksum <"$PACK")"
if [ "$(cat "$WORK/pack/.sum" 2>/dev/null)" != "$SUM" ]; then
  rm -rf "$WORK/pack" && mkdir -p "$WORK/pack"
  if [ -n "$PY_ANY" ]; then
    "$PY_ANY" - "$PACK" "$WORK/pack" <<'PY' || stop 2 "cannot unpack $PACK"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
PY
  else
    tar -C "$WORK/pack" -xJf "$PACK" || stop 2 "cannot unpack $PACK (no Python, and tar could not)"
  fi
  echo "$SUM" >"$WORK/pack/.sum"
fi
NODE="$APP/bin/node"
say "pack: $(sed -n 2p "$APP/MANIFEST")"

# 2. Libraries: Node's and Dawn's (libstdc++ fallback), the Vulkan loader and the NVIDIA driver's.
command -v ldd >/dev/null 2>&1 || stop 2 "ldd is missing (libc-bin): cannot check the bundled Node's libraries"
if ldd "$NODE" "$APP/app/node_modules/webgpu/dist/linux-x64/dawn.node" 2>&1 | grep -q 'not found'; then
  export LD_LIBRARY_PATH="$APP/lib-fallback${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  context "libstdc++" "the system's is missing or too old: the pack's (Debian 12) is used"
fi
MISSING=$(ldd "$NODE" "$APP/app/node_modules/webgpu/dist/linux-x64/dawn.node" 2>&1 | grep 'not found' | sort -u | tr -s ' \t' ' ')
[ -z "$MISSING" ] || stop 2 "the bundled Node or dawn.node cannot load here:$MISSING"
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64:/usr/local/nvidia/lib"
loadable() {
  [ "${DEVICE_FORCE_DEBS:-0}" = 1 ] && return 1
  if [ -n "$PY_ANY" ]; then "$PY_ANY" -c "import ctypes,sys; ctypes.CDLL(sys.argv[1])" "$1" 2>/dev/null
  else ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$1 "; fi
}
unpack_deb() { # $1 deb, $2 dir: dpkg-deb -x, or Python (ar archive holding data.tar.*)
  if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$1" "$2"; return; fi
  "$PY_ANY" - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
at = 8
while at < len(data):
    name, size = data[at:at + 16].decode().strip(), int(data[at + 48:at + 58].decode().strip())
    body = data[at + 60:at + 60 + size]
    if name.rstrip("/").startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    at += 60 + size + (size & 1)
PY
}
SYSLIBS="$WORK/syslibs" INSTALLED=""
for pair in libvulkan.so.1:libvulkan1 libX11.so.6:libx11-6 libXext.so.6:libxext6 libGLdispatch.so.0:libglvnd0 \
  libxcb.so.1:libxcb1 libXau.so.6:libxau6 libXdmcp.so.6:libxdmcp6 libbsd.so.0:libbsd0 libmd.so.0:libmd0; do
  so=${pair%%:*} deb=${pair##*:}
  loadable "$so" && continue
  unpack_deb "$(ls "$APP/debs/${deb}_"*.deb)" "$SYSLIBS" || stop 2 "cannot unpack the pack's $deb"
  INSTALLED="$INSTALLED $deb"
done
if [ -n "$INSTALLED" ]; then
  export LD_LIBRARY_PATH="$SYSLIBS/usr/lib/x86_64-linux-gnu:$SYSLIBS/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  context "system libraries" "from the pack's Debian 12 .debs (unpacked, LD_LIBRARY_PATH):$INSTALLED"
else
  context "system libraries" "the system's (Vulkan loader, X11, glvnd)"
fi

# 3. The Vulkan driver: VK_ICD_FILENAMES as given, else NVIDIA's ICD json, else one made for the
#    NVIDIA library found, else the loader's own search (any driver installed, software ones too).
ICD_HOW="given (VK_ICD_FILENAMES)"
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && { export VK_ICD_FILENAMES="$f"; ICD_HOW="NVIDIA's"; break; }
  done
fi
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    if [ -f "$d/libGLX_nvidia.so.0" ]; then
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
        "$d/libGLX_nvidia.so.0" >"$WORK/nvidia_icd.json"
      export VK_ICD_FILENAMES="$WORK/nvidia_icd.json" ICD_HOW="written for $d/libGLX_nvidia.so.0 (no ICD json found)"
      break
    fi
  done
fi
[ -n "${VK_ICD_FILENAMES:-}" ] || ICD_HOW="none named: the Vulkan loader's own search"
context "Vulkan ICD" "${VK_ICD_FILENAMES:-default search}: $ICD_HOW"
DRIVER_GAPS=""
if [ -n "${VK_ICD_FILENAMES:-}" ] && [ -n "$PY_ANY" ]; then
  DRIVER_LIB=$("$PY_ANY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ICD"]["library_path"])' \
    "${VK_ICD_FILENAMES%%:*}" 2>/dev/null)
  case "$DRIVER_LIB" in /*) ;; ?*) DRIVER_LIB=$(for d in ${LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -f "$d/$DRIVER_LIB" ] && echo "$d/$DRIVER_LIB" && break; done) ;; esac
  [ -n "$DRIVER_LIB" ] && DRIVER_GAPS=$(ldd "$DRIVER_LIB" 2>&1 | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
  [ -n "$DRIVER_GAPS" ] && context "Vulkan driver" "$DRIVER_LIB cannot load: missing $DRIVER_GAPS"
fi
command -v nvidia-smi >/dev/null 2>&1 &&
  context "GPU (nvidia-smi)" "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
export DEVICE_RESULTS="$RESULTS" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$WORK/xdg}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# One step: its own process, a time limit, a line in steps.tsv; skipped when the budget is spent.
FAILED=0
step() { # name min_seconds_left command...
  local name=$1 need=$2 t0 rc limit left detail
  shift 2
  left=$((BUDGET - $(elapsed)))
  if [ "$left" -lt "$need" ]; then
    printf '%s\tskipped\t0\t%s\n' "$name" "time budget: ${left} s left of ${BUDGET} s" >>"$RESULTS/steps.tsv"
    FAILED=1; say "$name: skipped (time budget)"; return 1
  fi
  limit=$((left < STEP_LIMIT ? left : STEP_LIMIT))
  say "$name …"
  t0=$(date +%s)
  if command -v timeout >/dev/null 2>&1; then timeout -k 10 "$limit" bash -c '"$@"' _ "$@" >"$LOGS/$name.log" 2>&1; rc=$?
  else "$@" >"$LOGS/$name.log" 2>&1; rc=$?; fi
  if [ "$rc" = 0 ]; then
    printf '%s\tok\t%s\t\n' "$name" $(($(date +%s) - t0)) >>"$RESULTS/steps.tsv"; return 0
  fi
  detail=$(grep -E '[A-Za-z]*Error: |^no GPU adapter' "$LOGS/$name.log" | tail -1)
  [ -n "$detail" ] || detail=$(grep -Ev '^Warning: |^ *at |^Node\.js v|^[ {}]*$' "$LOGS/$name.log" | tail -1)
  detail=$(echo "$detail" | cut -c1-300)
  [ "$rc" = 124 ] && detail="timed out after ${limit} s; $detail"
  printf '%s\tfailed (exit %s)\t%s\t%s\n' "$name" "$rc" $(($(date +%s) - t0)) "$detail" >>"$RESULTS/steps.tsv"
  FAILED=1; say "$name: failed: $detail"; return "$rc"
}
check() { "$NODE" "$APP/app/device-check.mjs" "$@"; }
gen() { check generate --out "$1" --seed "$2" --layers "$LAYERS" --vocab "$VOCAB" --dtype "$3"; }
generate_all() { # the checkpoints at once, each in its own process; fails when any one fails
  local pids="" p rc=0
  gen "$DATA/base" 1 "$DTYPE" & pids="$pids $!"
  gen "$DATA/ft1" 2 "$DTYPE" & pids="$pids $!"
  gen "$DATA/ft2" 3 "$DTYPE" & pids="$pids $!"
  [ "$DECODE_DATA" = "$DATA" ] || { gen "$DECODE_DATA/base" 1 "$DECODE_DTYPE" & pids="$pids $!"; }
  for p in $pids; do wait "$p" || rc=1; done
  return $rc
}
export NODE APP DATA DECODE_DATA LAYERS VOCAB DTYPE DECODE_DTYPE
export -f check gen generate_all # steps run them under `timeout … bash -c`

# 4. The adapter, or one line and out.
if ! step adapter 10 check adapter; then
  why=$(grep -v '^Warning: ' "$LOGS/adapter.log" | tail -1)
  stop 3 "${why:-no GPU adapter found}${DRIVER_GAPS:+; the Vulkan driver misses $DRIVER_GAPS}"
fi
ADAPTER=$(grep '^{' "$LOGS/adapter.log" | tail -1)
say "adapter: $ADAPTER"
if echo "$ADAPTER" | grep -q '"software":true' && command -v nvidia-smi >/dev/null 2>&1; then
  say "WARNING: an NVIDIA GPU is present but WebGPU runs on a software adapter (is NVIDIA's Vulkan driver installed?)"
fi
PYTHON=""
for p in ${DEVICE_PYTHON:-} python3 python /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null && { PYTHON="$p"; break; }
done
context "PyTorch" "$([ -n "$PYTHON" ] && "$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available" if torch.cuda.is_available() else "not available")' || echo 'no Python with torch: the PyTorch rows are skipped')"
context "checkpoints" "3 × Qwen2.5-0.5B-shaped, random $DTYPE, layers $LAYERS, vocab $VOCAB (base, ft1, ft2; tools/random-qwen.ts); decode: the same shape in $DECODE_DTYPE"
context "run" "$([ "$QUICK" = 1 ] && echo '--quick, ' || true)budget ${BUDGET} s, each step ≤ ${STEP_LIMIT} s; $(nproc 2>/dev/null || echo ?) CPUs"

step bandwidth 15 check bandwidth --mib "$BW_MIB"
if step generate 30 generate_all; then
  for m in ${METHODS//,/ }; do
    step "merge-webgpu-$m" 20 check merge --data "$DATA" --method "$m"
    if [ -n "$PYTHON" ]; then
      step "merge-torch-$m" 20 "$PYTHON" "$ROOT/bench/device/merge_torch.py" --data "$DATA" --method "$m" \
        --result "$RESULTS/merge-torch-$m.json"
    fi
  done
  for w in ${WEIGHTS//,/ }; do
    step "decode-$w" 30 check decode --model "$DECODE_DATA/base" --weights "$w" \
      --prompt-tokens "$PROMPT_TOKENS" --new-tokens "$NEW_TOKENS" --reps "$REPS"
  done
fi

# 5. The report.
context "total time" "$(elapsed) s"
MD="$WORK/device-check.md"
check report --markdown "$MD" 2>/dev/null || cat "$RESULTS/steps.tsv"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT" && cp "$MD" "$OUT/device-check.md" && cp -r "$RESULTS" "$OUT/device-results" && cp -r "$LOGS" "$OUT/device-logs"
fi
exit "$FAILED"
