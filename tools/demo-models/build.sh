#!/usr/bin/env bash
# Regenerates the Merge Lab demo family from scratch, deterministically (seed in settings.py):
#   public/models/demo-{base,quick,slow}/, public/models/REPORT.md,
#   public/data/arith-heldout.jsonl, test/golden/*.golden.{json,safetensors}
# Usage: bash tools/demo-models/build.sh            (see README.md for measured times; 2 cores, no GPU)
# Env:   DEMO_WORK=/tmp/demo-models-work   scratch dir for checkpoints and logs
#        TOKENIZERS_NODE_MODULES=/tmp/tk/node_modules   if set (or if that default exists), runs the
#        JS tokenizer parity check (needs @huggingface/tokenizers@0.2.0 and @huggingface/jinja there)
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || need+=(python3-torch python3-numpy)
ls /usr/lib/*/libopenblas.so.0 >/dev/null 2>&1 || need+=(libopenblas0-pthread)
ls /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1 || need+=(libtcmalloc-minimal4)
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y python3-torch python3-numpy libopenblas0-pthread libtcmalloc-minimal4
fi

# Speed: OpenBLAS, tcmalloc, one thread per process; training and evaluation run one process per core.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LD_PRELOAD=libtcmalloc_minimal.so.4
WORK="${DEMO_WORK:-/tmp/demo-models-work}"
mkdir -p "$WORK"
PY=(/usr/bin/python3 tools/demo-models/demo_models.py --work "$WORK")

start=$(date +%s)
"${PY[@]}" prepare
"${PY[@]}" train base 2>&1 | tee "$WORK/base.log"
"${PY[@]}" train base2 2>&1 | tee "$WORK/base2.log"
"${PY[@]}" train s1   2>&1 | tee "$WORK/s1.log"
"${PY[@]}" train s2   2>&1 | tee "$WORK/s2.log"
"${PY[@]}" export
"${PY[@]}" eval       2>&1 | tee "$WORK/eval.log"
"${PY[@]}" golden

NM="${TOKENIZERS_NODE_MODULES:-/tmp/tk/node_modules}"
if command -v node >/dev/null && [ -d "$NM/@huggingface/tokenizers" ]; then
  node tools/demo-models/check_tokenizer.mjs "$NM" public/models/demo-base "$WORK/tok_expect.json"
else
  echo "skipping JS tokenizer parity check (no node or no $NM/@huggingface/tokenizers)"
fi
echo "done in $(( ($(date +%s) - start) / 60 )) min"
