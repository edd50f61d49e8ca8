"""``python -m bench perf``: time our kernels against their reference implementations.

Collects rows from each track's ``<track>.perf.run_perf(quick, only=..., device=...)``
(:data:`bench.methods.TRACK_PACKAGES`; a track that cannot be imported is skipped with a
note), prints them as a Markdown table and optionally writes them as JSON. Row keys: ``case,
ours_s, reference, reference_s, speedup, max_abs_diff, target, met, notes``. ``--only`` is
passed on (so cases that cannot match are not timed) and also filters the rows returned.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.cli._arguments import device_type
from bench.device import DEVICE_HELP
from bench.methods import TRACK_PACKAGES

HELP = "time the Numba/torch kernels against their references (speedups, max |diff|)"

#: The perf module of each track: ``run_perf(quick, *, only, device) -> list[dict]``.
PERF_MODULES = tuple(f"{package}.perf" for package in TRACK_PACKAGES.values())
COLUMNS = ("case", "ours_s", "reference", "reference_s", "speedup", "max_abs_diff", "target", "met")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="also write the rows to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="small inputs and few repeats (seconds instead of minutes)")
    parser.add_argument("--only", metavar="PATTERN", default=None,
                        help="run only the cases whose name contains PATTERN (case-insensitive)")
    parser.add_argument("--track", choices=("all", *TRACK_PACKAGES), default="all",
                        help="time only one track's cases (classical = baselines.perf)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a row misses its target")
    parser.add_argument("--device", type=device_type, default="auto", metavar="DEVICE",
                        help=f"where the deep track's models run: {DEVICE_HELP}; the "
                             "classical kernels always run on the CPU")


def collect_rows(quick: bool, only: str | None, modules=PERF_MODULES,
                 device: str = "auto") -> tuple[list[dict], list[str]]:
    """Run every available track's ``run_perf``; returns (rows, notes about skipped tracks).

    """
    rows: list[dict] = []
    notes: list[str] = []
    pattern = (only or "").lower()
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            notes.append(f"{module_name} not available ({exc}); its cases were skipped")
            continue
        track_rows = module.run_perf(quick=quick, only=only, device=device)
        rows.extend(row for row in track_rows
                    if not pattern or pattern in str(row.get("case", "")).lower())
    return rows, notes


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4g}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Markdown (GitHub) table of the rows; notes follow as a numbered list."""
    from tabulate import tabulate

    body = [[_cell(row.get(column)) for column in COLUMNS] for row in rows]
    table = tabulate(body, headers=list(COLUMNS), tablefmt="github", disable_numparse=True)
    notes = [f"{i}. {row['case']}: {row['notes']}" for i, row in enumerate(rows, 1)
             if row.get("notes")]
    return table + ("\n\nNotes:\n" + "\n".join(notes) if notes else "")


def _device_problem(device: str) -> str | None:
    """Why the deep track cannot run on ``device`` (checked before any timing), or None."""
    from bench.device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        return str(exc)
    return None


def main(args: argparse.Namespace) -> int:
    track = getattr(args, "track", "all")
    modules = PERF_MODULES if track == "all" else (f"{TRACK_PACKAGES[track]}.perf",)
    device = getattr(args, "device", "auto")
    problem = _device_problem(device) if device != "auto" and f"{TRACK_PACKAGES['deep']}.perf" in modules else None
    if problem:
        print(f"error: --device {device}: {problem}", file=sys.stderr)
        return 2
    rows, notes = collect_rows(args.quick, args.only, modules, device=device)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not rows:
        print(f"no perf case matches --only {args.only!r}", file=sys.stderr)
        return 2
    print(format_table(rows))
    if args.json:
        from bench.atomic import write_json

        write_json(args.json, rows)
        print(f"wrote {len(rows)} rows to {args.json}", file=sys.stderr)
    missed = [row["case"] for row in rows if row.get("met") is False]
    if missed:
        print(f"{len(missed)} target(s) missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if (args.strict and missed) else 0
