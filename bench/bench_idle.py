"""CPU of an idle gradio process: gradio's own queue polling against ``poll_gently``, side by side.

    python -m bench.bench_idle [--seconds 10]

Two processes serve the same small page at once, one with gradio's defaults (the queue looks for
events every 1 ms and for progress every 10 ms), one after ``components.ui.queue_polling``; nobody
connects to either. Each reports the CPU it used over the same window, so a busy machine slows
both alike. The studio's own processes idle like the gentle one (app.py applies it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time

from tests.e2e.app_server import free_port

CHILD = textwrap.dedent("""
    import json, os, resource, sys, time
    import gradio as gr
    from components.ui.queue_polling import poll_gently
    with gr.Blocks() as page:
        gr.Button("go").click(lambda: None)
    if sys.argv[1] == "gentle":
        poll_gently(page)
    page.launch(prevent_thread_lock=True, quiet=True, server_port=int(sys.argv[2]))
    print("ready", flush=True)
    sys.stdin.readline()  # the window starts
    before, began = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    sys.stdin.readline()  # and ends
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"cores": used / (time.monotonic() - began)}), flush=True)
    page.close()
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    children = {mode: subprocess.Popen([sys.executable, "-c", CHILD, mode, str(free_port())], text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                for mode in ("default", "gentle")}
    for child in children.values():
        while child.stdout.readline().strip() != "ready":
            pass
    time.sleep(1.0)  # past the start-up work
    for child in children.values():
        child.stdin.write("\n")
        child.stdin.flush()
    time.sleep(args.seconds)
    cores = {}
    for mode, child in children.items():
        child.stdin.write("\n")
        child.stdin.flush()
        cores[mode] = json.loads(child.stdout.readline())["cores"]
        child.wait(30)
    print(f"idle gradio process over {args.seconds:g} s: default polling {cores['default']:.4f} of a core, "
          f"poll_gently {cores['gentle']:.4f} ({cores['default'] / max(cores['gentle'], 1e-6):.1f}x less)")


if __name__ == "__main__":
    main()
