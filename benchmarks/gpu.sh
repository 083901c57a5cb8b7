#!/usr/bin/env bash
# The GPU checks of issue 17 in one call, within 10 minutes on one GPU; commit what it writes.
#
#   OUT=reports benchmarks/gpu.sh        # on a machine with CUDA and a CUDA build of torch
#
# Uses the python on PATH (or $PYTHON) as it is, with this checkout on PYTHONPATH: a GPU machine
# keeps its own CUDA build of torch (constraints.txt pins the CPU build for CI). It needs pytest,
# scipy, tabulate and matplotlib besides torch. Steps, each under its own time limit so that one
# stuck step cannot eat the others' time:
#   1. the environment: nvidia-smi, torch and its CUDA           -> $OUT/gpu-env.txt
#   2. every device-parametrized test on CUDA (CPU vs CUDA equivalence of training, batched
#      training, probes, claims' quick cells)                     -> $OUT/gpu-tests.txt
#   3. benchmarks/gpu_bench.py: a batched group of 64 vs the same runs one by one, eager vs
#      captured (torch.compile reduce-overhead) training steps   -> $OUT/bench-gpu.md, .json
#   4. a slice of the paper profile on CUDA (adding, T = 50, lstm and gru, 2 seeds each)
#                                                                  -> $OUT/paper-slice-gpu.md
# Exit status: 0 if every step passed, else 1 (the files say which).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-reports}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=1
status=0
step() {  # step NAME SECONDS LOG COMMAND...
  local name=$1 limit=$2 log=$3; shift 3
  local start=$SECONDS
  timeout "$limit" "$@" > "$log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - start)) s (limit $limit s)" | tee -a "$OUT/gpu-steps.txt"
  [ "$rc" -eq 0 ] || status=1
}
: > "$OUT/gpu-steps.txt"
{ nvidia-smi || true
  "$PY" -c "import torch; c = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'available', c, torch.cuda.get_device_name(0) if c else '')"; } > "$OUT/gpu-env.txt" 2>&1
step tests 240 "$OUT/gpu-tests.txt" "$PY" -m pytest -q -p no:cacheprovider -p no:xdist -k cuda tests
step bench 200 "$OUT/gpu-bench.log" "$PY" benchmarks/gpu_bench.py --device cuda --out "$OUT"
step paper-slice 120 "$OUT/gpu-paper-slice.log" "$PY" examples/paper_slice.py --device cuda --task adding \
  --gap 50 --archs lstm,gru --seeds 2 --workers 1 --store "${TMPDIR:-/tmp}/vgsuite-gpu-paper.sqlite" \
  --out "$OUT/paper-slice-gpu.md"
exit $status
