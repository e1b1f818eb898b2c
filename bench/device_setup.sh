#!/usr/bin/env bash
# What the lent GPU machine lacks, carried without a package registry (issue 26 item 1).
#
#   bash bench/device_setup.sh build [DIR]           # here: wheels + a trimmed Warp tree -> DIR/bundle.tar.part-*
#   bash bench/device_setup.sh stash [DIR] [STORE]   # there, every call: move the parts that came with it to STORE
#   bash bench/device_setup.sh install [STORE] [SITE] # there, last call: reassemble, install into SITE (no index)
#   bash bench/device_setup.sh dry-run [DIR]         # here: build, then install into a fresh Python 3.12 venv with
#                                                    # no index and run `python -m bench.gpu_check --dry-run` in it
#
# DIR defaults to .bundle (git-ignored; each part is named in `carry` of one device call), STORE to /tmp/epo_bundle,
# SITE to /tmp/epo_site (use it with PYTHONPATH=SITE:.). The lent machine (docs/benchmarks.md, "Running the device
# check") has Python 3.12, torch 2.11+cu130, numpy, scipy, matplotlib, PyYAML, psutil, tensorboard, imageio, absl-py,
# etils and cloudpickle; it lacks everything in WHEELS below and Warp. Warp travels as an unpacked tree without
# warp-clang.so (Warp's CPU-kernel compiler, unused on a GPU) and without its examples: xz brings 149 MB of wheel
# to about 70 MB; the whole bundle is about 112 MiB. Parts are at most PART_MB (56) MiB, so that one part and the
# repository (about 5 MiB) fit the 64 MiB a call carries: two parts, two calls.
set -euo pipefail
cd "$(dirname "$0")/.."

PART_MB=${PART_MB:-56}
WARP=warp-lang==1.19.0
# the versions the tests run with (pip freeze of the CI environment, 2026-12-03)
WHEELS=(
  rl-games==1.6.5 tensorboardX==2.6.5 setproctitle==1.3.8 watchdog==7.1.0
  gymnasium==1.4.0 farama-notifications==0.0.6
  hydra-core==1.3.8 omegaconf==2.3.1
  pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
  mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw==2.11.0 pyopengl==3.1.10
  mujoco-warp==4.0.0 roma==1.8.0
)
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
          --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
          --platform manylinux1_x86_64)

build() {
  local dir=${1:-.bundle} work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/stage/wheels" "$work/warp"
  echo "[device_setup] downloading ${#WHEELS[@]} wheels for CPython 3.12 manylinux x86_64"
  python -m pip download -q --no-deps "${PLATFORM[@]}" -d "$work/stage/wheels" "${WHEELS[@]}"
  # Hydra's parser runtime has no wheel on PyPI: build one here (pure Python)
  python -m pip wheel -q --no-deps -w "$work/stage/wheels" antlr4-python3-runtime==4.9.3
  python -m pip download -q --no-deps "${PLATFORM[@]}" -d "$work" "$WARP"
  python -m zipfile -e "$work"/warp_lang-*.whl "$work/warp"
  rm -rf "$work/warp/warp/bin/warp-clang.so" "$work/warp/warp/examples"
  mkdir -p "$dir"
  if [ "${WITH_CLANG:-0}" = 1 ]; then  # the dry run compiles CPU kernels: ship the compiler beside the bundle
    python -m zipfile -e "$work"/warp_lang-*.whl "$work/clang"
    cp "$work/clang/warp/bin/warp-clang.so" "$dir/warp-clang.so"
  fi
  echo "[device_setup] compressing Warp (xz, about a minute)"
  tar -C "$work/warp" -cf - . | xz -T0 -6 > "$work/stage/warp.tar.xz"
  rm -f "$dir"/bundle.tar.part-*
  tar -C "$work/stage" -cf - . | split -b "${PART_MB}M" - "$dir/bundle.tar.part-"
  ls -l "$dir"
  echo "[device_setup] $(ls "$dir"/bundle.tar.part-* | wc -l) part(s) in $dir; carry one per device call"
}

stash() {
  local dir=${1:-.bundle} store=${2:-/tmp/epo_bundle}
  mkdir -p "$store"
  shopt -s nullglob
  for part in "$dir"/bundle.tar.part-*; do cp "$part" "$store/"; done
  ls -l "$store"
}

install() {
  local store=${1:-/tmp/epo_bundle} site=${2:-/tmp/epo_site} stage
  stage=$(mktemp -d)
  cat "$store"/bundle.tar.part-* | tar -C "$stage" -xf -
  python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    "$stage"/wheels/*.whl
  xz -dc "$stage/warp.tar.xz" | tar -C "$site" -xf -
  rm -rf "$stage"
  echo "[device_setup] installed into $site: use PYTHONPATH=$site:."
}

dry_run() {
  local dir=${1:-.bundle} root venv store site py
  root=$(mktemp -d)
  venv="$root/venv" store="$root/store" site="$root/site"
  if [ -f "$dir/warp-clang.so" ] && ls "$dir"/bundle.tar.part-* >/dev/null 2>&1; then
    echo "[device_setup] reusing the bundle in $dir (delete it to rebuild)"
  else
    WITH_CLANG=1 build "$dir"
  fi
  py=""
  for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
    if "$candidate" -c "import sys; assert sys.version_info[:2] == (3, 12)" 2>/dev/null; then py=$candidate; break; fi
  done
  [ -n "$py" ] || { echo "dry-run: no working python3.12 (pyenv install 3.12)" >&2; return 2; }
  "$py" -m venv "$venv"
  echo "[device_setup] the lent machine's own packages, from the index (torch: the CPU build here)"
  "$venv/bin/python" -m pip install -q torch==2.13.0 numpy scipy matplotlib pyyaml psutil tensorboard imageio \
    absl-py etils cloudpickle typing-extensions packaging requests pillow
  echo "[device_setup] carrying: parts one at a time into $store, then installing with no index"
  for part in "$dir"/bundle.tar.part-*; do
    mkdir -p "$root/call" && cp "$part" "$root/call/" && stash "$root/call" "$store" >/dev/null && rm -rf "$root/call"
  done
  PATH="$venv/bin:$PATH" PIP_NO_INDEX=1 install "$store" "$site"
  cp "$dir/warp-clang.so" "$site/warp/bin/"  # CPU kernels for this dry run only
  PATH="$venv/bin:$PATH" PYTHONPATH="$site:." WANDB_MODE=offline WARP_CACHE_PATH="$root/warpcache" \
    python -m bench.gpu_check --dry-run --log "$root/gpu_check.log"
  echo "[device_setup] dry run passed ($root)"
  rm -rf "$root"
}

case "${1:-}" in
  build) build "${2:-}" ;;
  stash) stash "${2:-}" "${3:-}" ;;
  install) install "${2:-}" "${3:-}" ;;
  dry-run) dry_run "${2:-}" ;;
  *) echo "usage: bash bench/device_setup.sh build|stash|install|dry-run [args] (see the header)" >&2; exit 2 ;;
esac
