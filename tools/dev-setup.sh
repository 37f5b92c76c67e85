#!/usr/bin/env bash
# Installs motionseg-trt for development into the active Python environment: torch 2.13.0 (CPU) first
# so that pip never reaches for a multi-GB CUDA build, the package with its test extras and Ray (the
# optional extra of `run --ray`, which the tests start locally), the training
# package (training/, kept out of the engine's wheel; its dependencies are the engine's), and the sam2
# package without its dependencies (its own setup would pull a CUDA torch; SAM2_BUILD_CUDA=0 skips its
# optional CUDA extension).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,ray]"
python -m pip install -q --no-deps -e ./training
SAM2_BUILD_CUDA=0 python -m pip install -q --no-build-isolation --no-deps "sam2==1.1.0"
