#!/usr/bin/env bash
# The GPU check's one command on the GPU machine (scripts/gpu-check/README.md), run from the
# repository root with .gpu-check/ (scripts/gpu-check/pack.sh) beside it. Needs bash, tar and
# python3 (xz, or Python's tarfile); no Node, no network. Within LIMIT seconds in all it:
#   1. unpacks .gpu-check/pack.tar.xz into a temporary folder (Node, the bundle, node_modules);
#   2. sets up Vulkan: the carried loader (Debian's libvulkan1) when the system has none, and
#      NVIDIA's ICD (VK_DRIVER_FILES) when the loader's folders name no NVIDIA driver;
#   3. runs scripts/gpu-check/pytorch_cuda.py (the PyTorch CUDA column) → $OUT/pytorch.json;
#   4. runs the check (dist/sidecar/gpu-check.js) with what is left → $OUT/gpu-check.json, and
#      prints its table; its log is $OUT/gpu-check.log.
# Exit status: the check's (0 ok, 1 not ok), 124 if it ran out of time (the JSON holds what it got).
# $OUT also gets env.txt (driver, Vulkan loader and ICD files) and the PyTorch and check logs.
#
#   bash scripts/gpu-check/run.sh [--allow-software] [--limit-s 480] [--torch-device cuda|cpu]
#        [--torch-models mlp,cnn,resnet18,vit-tiny] [--no-torch] [check options: --demo-steps N, --only ...]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/gpu-check-out}
LIMIT=480
TORCH_DEVICE=cuda
TORCH_MODELS=mlp,cnn,resnet18,vit-tiny
TORCH=1
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --limit-s) LIMIT=$2; shift 2 ;;
    --torch-device) TORCH_DEVICE=$2; shift 2 ;;
    --torch-models) TORCH_MODELS=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
    *) PASS+=("$1"); shift ;;
  esac
done
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
say() { echo "[run.sh $(elapsed) s] $*" >&2; }
mkdir -p "$OUT"

PACK="$ROOT/.gpu-check/pack.tar.xz"
[ -f "$PACK" ] || { say "no $PACK: run scripts/gpu-check/pack.sh where Node is, and carry .gpu-check"; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aft-gpu-check.XXXXXX")
if command -v xz >/dev/null; then
  tar -xJf "$PACK" -C "$WORK" || exit 2
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PACK" "$WORK" || exit 2
fi
say "unpacked $(du -sh "$WORK" | cut -f1) into $WORK"
NODE="$WORK/bin/node"
"$NODE" --version >/dev/null || { say "the carried Node does not run here"; ldd "$NODE" >&2; exit 2; }

# Vulkan: Dawn loads libvulkan.so.1; the loader finds drivers through ICD files.
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  say "Vulkan loader: the system's"
else
  export LD_LIBRARY_PATH="$WORK/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: the carried one (Debian libvulkan1)"
fi
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
ICDS=$(ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ /usr/local/share/vulkan/icd.d/ 2>/dev/null | grep -i nvidia || true)
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -z "$ICDS" ] && [ -f "$NV_ICD" ]; then
  export VK_DRIVER_FILES="$NV_ICD" VK_ICD_FILENAMES="$NV_ICD"
  say "Vulkan driver: $NV_ICD (VK_DRIVER_FILES)"
fi
# The NVIDIA ICD's library (libGLX_nvidia.so.0) where the driver is mounted rather than installed.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && ! ldconfig -p 2>/dev/null | grep -q "$d/libGLX_nvidia" && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done

# What the machine has, for when the adapter is not the GPU ($OUT/env.txt).
{
  echo "## nvidia-smi -L"; nvidia-smi -L 2>&1 || /usr/local/nvidia/bin/nvidia-smi -L 2>&1
  echo "## ldconfig -p (vulkan, nvidia, cuda)"; ldconfig -p 2>/dev/null | grep -i -E 'vulkan|nvidia|cudart|cudnn' | head -40
  echo "## ICD files"; ls -la /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ /usr/local/share/vulkan/icd.d/ /usr/local/nvidia/share/vulkan/icd.d/ 2>&1
  [ -f "$NV_ICD" ] && { echo "## $NV_ICD"; cat "$NV_ICD"; }
  echo "## /usr/local/nvidia/lib64 (GL, Vulkan)"; ls /usr/local/nvidia/lib64 2>&1 | grep -i -E 'glx|vulkan|glvk|spirv|nvidia-gl' | head -20
  echo "## env"; env | grep -E '^(VK_|LD_LIBRARY_PATH|PATH|HOME|XDG)' 
  echo "## os"; cat /etc/os-release 2>/dev/null | head -2; uname -a; ldd --version 2>&1 | head -1
} >"$OUT/env.txt" 2>&1

# The PyTorch column, given at most a fifth of the limit.
TORCH_ARG=()
if [ "$TORCH" = 1 ]; then
  TORCH_LIMIT=$(( LIMIT / 5 ))
  say "PyTorch ($TORCH_DEVICE; at most $TORCH_LIMIT s)"
  PYTHONUNBUFFERED=1 timeout -k 5 "$TORCH_LIMIT" python3 "$ROOT/scripts/gpu-check/pytorch_cuda.py" --device "$TORCH_DEVICE" --models "$TORCH_MODELS" \
    $([ "$TORCH_DEVICE" = cpu ] && echo --max-steps 1) --out "$OUT/pytorch.json" >"$OUT/pytorch.log" 2>&1
  rc=$?
  tail -n 12 "$OUT/pytorch.log" | grep -v '^{' >&2
  [ $rc = 0 ] && TORCH_ARG=(--pytorch "$OUT/pytorch.json") || say "PyTorch did not finish (exit $rc): see $OUT/pytorch.log"
fi

# The check, with what is left (a margin for its last writes and this script's end).
BUDGET=$(( LIMIT - $(elapsed) - 25 ))
[ "$BUDGET" -gt 30 ] || { say "no time left for the check ($BUDGET s)"; exit 124; }
say "the check: budget $BUDGET s"
cd "$ROOT"
timeout -k 5 $(( BUDGET + 15 )) "$NODE" "$WORK/dist/sidecar/gpu-check.js" --repo "$ROOT" --out "$OUT/gpu-check.json" --budget-s "$BUDGET" "${TORCH_ARG[@]}" "${PASS[@]}" 2>"$OUT/gpu-check.log"
rc=$?
[ $rc = 124 ] || [ $rc = 137 ] && say "the check ran out of time: $OUT/gpu-check.json holds what it finished"
tail -n 5 "$OUT/gpu-check.log" >&2
rm -rf "$WORK"
say "done (exit $rc): $OUT/gpu-check.json"
exit $rc
