"""Save a picture of one trace as the Zipkin UI draws it, for the README and docs.

Zipkin's UI is a JavaScript app: fetching its page gets an empty shell, so a headless
Chromium loads the page, lets the app fetch and draw the trace, and saves a PNG. The trace
is first looked up through Zipkin's API, so a wrong id or a Zipkin that is not running gives
a clear error instead of a picture of an error page; the page Chromium drew (its DOM) must
show the trace id and every service, else the PNG is refused as not rendered. Chromium (the
Debian package) is installed with apt-get when missing; it runs with a throwaway profile
and is never left running.

  .venv/bin/python -m infra.local.trace_screenshot <trace_id> [--out docs/trace.png]

Zipkin is the one infra/local/platform.sh starts, on 127.0.0.1:$BATON_ZIPKIN_PORT (9411)."""

import argparse
import contextlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

TRACE_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
WINDOW = "1600,1160"  # tall enough for a sequential task's 27 spans
BUDGET_MS = 10_000  # virtual time the page gets to fetch and draw the trace
TIMEOUT_S = 120  # wall-clock limit for one Chromium run


class ScreenshotError(Exception):
    """Something the user must fix; the message says what."""


def trace_id(text: str) -> str:
    if not TRACE_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a trace id (16 or 32 lowercase hex digits)")
    return text


def zipkin_base() -> str:
    return f"http://127.0.0.1:{os.environ.get('BATON_ZIPKIN_PORT', '9411')}"


def check_trace(base: str, trace: str) -> list[str]:
    """The trace's service names; raises when Zipkin does not answer or does not have it."""
    url = f"{base}/api/v2/trace/{trace}"
    try:
        resp = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise ScreenshotError(f"Zipkin does not answer at {base} ({exc}); start it with "
                              "`bash infra/local/platform.sh up` (and BATON_TRACING not off)") from exc
    if resp.status_code == 404:
        raise ScreenshotError(f"Zipkin at {base} has no trace {trace} (kept in memory only: "
                              "a restarted Zipkin has forgotten older traces)")
    if resp.status_code != 200:
        raise ScreenshotError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
    spans = resp.json()
    return sorted({name for s in spans if (name := s.get("localEndpoint", {}).get("serviceName"))})


def apt_install(package: str) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def chromium() -> str:
    """The Chromium binary on PATH, installed from the Debian package `chromium` if missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    print("trace_screenshot: Chromium is not installed; installing the Debian package chromium "
          "with apt-get", file=sys.stderr)
    apt_install("chromium")
    found = shutil.which("chromium")
    if not found:
        raise ScreenshotError("apt-get installed chromium but there is no `chromium` on PATH")
    return found


def chromium_command(binary: str, profile: str, url: str, out: Path) -> list[str]:
    """One run saves the PNG and prints the page's DOM as drawn at that moment."""
    return [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions",
            f"--window-size={WINDOW}", f"--virtual-time-budget={BUDGET_MS}", f"--screenshot={out}",
            "--dump-dom", url]


def run_chromium(command: list[str]) -> str:
    """Chromium's standard output. It runs in a process group of its own, and whatever of the
    group is left afterwards is killed: no browser or helper process outlives this script."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ScreenshotError(f"Chromium did not finish in {TIMEOUT_S} s") from exc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.returncode != 0:
        raise ScreenshotError(f"Chromium failed (exit {proc.returncode}): {err[-1000:]}")
    return out


def screenshot(binary: str, url: str, out: Path, expected: list[str]) -> None:
    """Save the page as a PNG; refuse it unless the drawn page shows every expected text."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="trace-screenshot-") as profile:
        dom = run_chromium(chromium_command(binary, profile, url, out.resolve()))
    if not out.is_file() or out.stat().st_size == 0:
        raise ScreenshotError(f"Chromium wrote no screenshot to {out}")
    missing = [text for text in expected if html.escape(text, quote=False) not in dom]
    if missing:
        out.unlink()
        raise ScreenshotError(f"the Zipkin UI had not drawn the trace after {BUDGET_MS / 1000:.0f} s "
                              f"(the page lacks {', '.join(missing)}); no PNG saved")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace_id", type=trace_id, help="16 or 32 lowercase hex digits")
    parser.add_argument("--out", type=Path, default=Path("docs/trace.png"), help="the PNG to write")
    args = parser.parse_args()
    base = zipkin_base()
    try:
        services = check_trace(base, args.trace_id)
        url = f"{base}/zipkin/traces/{args.trace_id}"
        screenshot(chromium(), url, args.out, [args.trace_id, *services])
    except ScreenshotError as exc:
        print(f"trace_screenshot: {exc}", file=sys.stderr)
        return 1
    print(f"trace_screenshot: {url} ({', '.join(services)}) saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
