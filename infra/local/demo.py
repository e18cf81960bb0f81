"""Send one topic through the running content pipeline and print the article. The API key
is BATON_API_KEY, else the local key with write scope (starting tasks and reading them).
Usage: python infra/local/demo.py [topic] [--url http://127.0.0.1:8080]"""

import argparse
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script by `make run`
from infra.local.keys import local_api_key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("topic", nargs="?", default="How AI agents coordinate with each other")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    with httpx.Client(base_url=args.url, timeout=30, headers={"X-API-Key": local_api_key("write")}) as http:
        started = http.post("/create-content", json={"topic": args.topic})
        started.raise_for_status()
        task_id = started.json()["task_id"]
        print(f"demo: task {task_id} started: {args.topic!r}", flush=True)
        deadline, shown = time.monotonic() + args.timeout, 0
        while time.monotonic() < deadline:
            task = http.get(f"/task/{task_id}").json()
            for step in task["steps"][shown:]:
                print(f"demo:   step {step['name']} done at {step['completed_at']}", flush=True)
            shown = len(task["steps"])
            if task["status"] in ("completed", "failed"):
                break
            time.sleep(1)
        else:
            print(f"demo: task still {task['status']} after {args.timeout:.0f}s", file=sys.stderr)
            return 1
    if task["status"] == "failed":
        print(f"demo: task failed: {task['error']}", file=sys.stderr)
        return 1
    result = task["result"]
    print(f"\n--- {result['topic']} ({result['word_count']} words; written by a small local model, "
          "so expect odd content) ---\n")
    print(result["final_article"])
    print(f"\n--- GET {args.url}/task/{task_id} shows every step ---")
    if task.get("trace_id"):
        zipkin = os.environ.get("BATON_ZIPKIN_PORT", "9411")
        print(f"--- its trace: http://127.0.0.1:{zipkin}/zipkin/traces/{task['trace_id']} ---")
    return 0


if __name__ == "__main__":
    sys.exit(main())
