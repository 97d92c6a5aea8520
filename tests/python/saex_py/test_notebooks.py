"""The example notebooks (examples/notebooks/*.py, percent-cell scripts) run top to bottom."""

import subprocess
import sys

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "examples/notebooks").glob("*.py"))


def test_the_seed_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {"seed001_explore.py", "seed003_workflow.py"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, model):
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "Top features" in out.stdout
