#!/usr/bin/env bash
# GPU check of the deep track, for a machine with an NVIDIA GPU and PyTorch with CUDA
# (CI has no GPU and never runs it). Writes its logs and tables to $OUT (default gpu-check/):
#   1. the CUDA tests (tests/deep/test_cuda.py);
#   2. `bench perf --track deep --device cuda` (paper-size models, fp32 and bf16);
#   3. `bench perf --track deep --device cpu --only _18` (the torchvision comparison on CPU);
#   4. `bench run --quick --device cuda` over the deep methods, its report and results.
# Usage: bash scripts/gpu_check.sh            (from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ACTBENCH_HOME="${ACTBENCH_HOME:-/tmp/actbench-gpu-check}"
PY="${PYTHON:-python3}"
status=0
step() { echo "== $*"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/machine.txt"
"$PY" -c "import torch, os; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'cpus', os.cpu_count())" 2>&1 | tee -a "$OUT/machine.txt"

step "CUDA tests"
"$PY" -m pytest -q -p no:cacheprovider tests/deep/test_cuda.py 2>&1 \
    | tee "$OUT/pytest.log" | tail -n 15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "bench perf --track deep --device cuda"
"$PY" -m bench perf --track deep --device cuda --json "$OUT/perf_cuda.json" 2>&1 \
    | tee "$OUT/perf_cuda.md"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "bench perf --track deep --device cpu --only _18"
"$PY" -m bench perf --track deep --device cpu --only _18 --json "$OUT/perf_cpu.json" 2>&1 \
    | tee "$OUT/perf_cpu.md"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "bench run --quick --device cuda (deep methods)"
rm -rf "$ACTBENCH_HOME/gpu-run"
"$PY" -m bench run --quick --device cuda --quiet --out "$ACTBENCH_HOME/gpu-run" \
    --methods chance,c3d,lrcn,tsn,tsn_ordered,i3d,mc3_18,r2plus1d_18,r3d_18,timesformer 2>&1 | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
cp "$ACTBENCH_HOME/gpu-run/report.md" "$OUT/quick_cuda_report.md" 2>/dev/null
cp "$ACTBENCH_HOME/gpu-run/results.csv" "$OUT/quick_cuda_results.csv" 2>/dev/null

echo "== gpu_check status $status"
exit "$status"
