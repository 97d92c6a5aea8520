"""Ctrl-C during a long run raises KeyboardInterrupt promptly, stops the engine's work, and
leaves the interpreter and the session usable."""

import signal
import subprocess
import sys
import time

import pytest

CHILD = r"""
import signal, sys, time, saex
# A process started in the background inherits SIGINT ignored, and Python then installs no
# KeyboardInterrupt handler: install it, as an interactive session has it.
signal.signal(signal.SIGINT, signal.default_int_handler)
s = saex.Session(sys.argv[1], saes=[sys.argv[2]])
long_run = {
    # Counting goes on for thousands of tokens (about 0.1 s each here): minutes of work.
    "generate": lambda: s.generate("1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", max_new_tokens=3000),
    "discover": lambda: s.discover(prompt="1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", generate=True, gen_tokens=1024, temperature=0.0),
}[sys.argv[3]]
print("ready", flush=True)
t = time.monotonic()
try:
    long_run()
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"interrupted {time.monotonic() - t:.3f}", flush=True)
print("after", s.generate("The capital of France is", max_new_tokens=3)["ids"], flush=True)
"""


@pytest.mark.parametrize("verb", ["generate", "discover"])
def test_ctrl_c_cancels_a_long_run(model, verb):
    from conftest import DEMO_SAE

    p = subprocess.Popen([sys.executable, "-c", CHILD, model, DEMO_SAE, verb], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        time.sleep(1.5)  # well into the run
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline().split()
        waited = time.monotonic() - sent
        assert line and line[0] == "interrupted", (line, p.stderr.read())
        # One poll (50 ms) plus the step in flight; generous for a loaded 2-core machine.
        assert waited < 3.0, f"KeyboardInterrupt {waited:.2f} s after SIGINT"
        after = p.stdout.readline().split(maxsplit=1)
        assert after[0] == "after" and after[1].startswith("["), after
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
