"""The architecture contracts of pyproject.toml hold, and a planted forbidden import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports")

pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([LINT, "--config", str(tree / "pyproject.toml"), "--no-cache"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def _copy_tree(dest: Path) -> Path:
    for package in ("bench", "baselines", "deep"):
        shutil.copytree(REPO / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_contracts_hold_on_this_tree(tmp_path):
    out = _lint(_copy_tree(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 kept, 0 broken" in out.stdout


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("baselines/flow.py", "import deep.models", "never import each other"),
    ("bench/tasks/recognition/metrics.py", "import baselines.svm",
     "only through the method registry"),
    ("bench/run/runner.py", "from bench.report import write_report", "no lower stage imports"),
    ("bench/data/manifest.py", "import bench.run.rundir", "no lower stage imports"),
    ("bench/report/compare.py", "import bench.run.runner", "report never imports the runner"),
    ("bench/methods.py", "import bench.data.video", "import no stage"),
    ("deep/clips.py", "import bench.report.noise", "never its run, report or CLI"),
])
def test_a_planted_forbidden_import_is_reported(tmp_path, module, planted, contract):
    tree = _copy_tree(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # planted by the test\n")
    out = _lint(tree)
    assert out.returncode != 0
    assert "1 broken" in out.stdout and contract in out.stdout.replace("\n", "")
    assert planted.split()[1].split(".")[0] in out.stdout  # the offending import is named
