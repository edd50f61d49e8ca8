"""bench.cli: every verb is wired and documented."""

from __future__ import annotations

import subprocess
import sys

from bench.cli import VERBS, build_parser


def test_every_verb_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    assert set(sub.choices) == set(VERBS)
    for verb, verb_parser in sub.choices.items():
        assert verb_parser.description and "not implemented" not in verb_parser.description, verb


def test_python_m_bench_version():
    out = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("actbench ")
