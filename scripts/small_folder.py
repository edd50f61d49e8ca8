"""Lay out a small generated dataset as a ``folder`` dataset (``ROOT/<class>/<actor>_<id>.avi``).

Small real datasets (a lab's own footage: a few classes, a few actors, one clip each) are where
a benchmark's budgets are tested hardest. This script renders such a set with the synthetic
generator (4 classes x 9 actors x 1 clip by default, the default preset's frames) and copies it
into the layout of the ``folder`` adapter, whose default group is the part of the file name
before the first ``_`` (here the actor), so that ``--protocol logo`` leaves one actor out::

    python scripts/small_folder.py /tmp/small4x9
    python -m bench run --dataset folder --root /tmp/small4x9 --protocol logo \\
        --methods c3d,i3d,r3d_18,mc3_18,r2plus1d_18 --out runs/small4x9

The figures of that run: ``docs/deep-recipes.md`` (small folder datasets).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from bench.data.datasets.synthetic import generate, preset_params

#: Four classes chosen before any run: two whole-body motions, two in place.
DEFAULT_CLASSES = ("walk", "jump", "bend", "wave2")


def build(root: Path, classes: tuple[str, ...], n_actors: int, clips: int, seed: int,
          jobs: int | None) -> int:
    """Render (or reuse) the generated entry and copy its videos under ``root``.

    Copies, not links: the dataset loader refuses paths that resolve outside its root.
    """
    params = preset_params("default", classes=classes, n_actors=n_actors,
                           clips_per_class=clips, n_folds=min(3, n_actors))
    entry = generate(params, seed=seed, jobs=jobs, progress=True)
    table = pd.read_csv(entry / "metadata.csv")
    for row in table.itertuples():
        source = (entry / row.path).resolve()
        target = root / row.label_name / f"actor{int(row.actor):02d}_{Path(row.path).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return len(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to create (ROOT/<class>/<video>)")
    parser.add_argument("--classes", default=",".join(DEFAULT_CLASSES),
                        help="comma-separated synthetic classes (default: %(default)s)")
    parser.add_argument("--actors", type=int, default=9, help="actors (default: %(default)s)")
    parser.add_argument("--clips", type=int, default=1,
                        help="clips per class and actor (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    n = build(args.root, tuple(args.classes.split(",")), args.actors, args.clips, args.seed,
              args.jobs)
    print(f"{n} videos copied under {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
