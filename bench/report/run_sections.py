"""The sections of the report about the run itself, whatever its task: the summary (config,
versions, the numerical environment, folds), training curves, run-to-run noise, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.text import commit_text, format_count, markdown_table, pct
from bench.run.rundir import WHOLE_UNIT, RunData

__all__ = ["summary_section", "training_section", "noise_section", "failures_section",
           "time_section"]

MAX_FAILURE_ROWS = 50


def summary_section(data: RunData) -> list[str]:
    run = data.run
    config = run.get("config", {}) or {}
    dataset = run.get("dataset", {}) or {}
    machine = run.get("machine", {}) or {}
    packages = run.get("packages", {}) or {}
    facts = [
        ("dataset", f"`{dataset.get('name', config.get('dataset', '?'))}` "
                    f"({len(data.classes)} classes)"),
        ("protocol", str(config.get("protocol") or "default")),
        ("dataset options", ", ".join(f"{k}={v}" for k, v in
                                      (config.get("dataset_options") or {}).items()) or "–"),
        ("seed", str(run.get("seed", config.get("seed", "?")))),
        ("quick configuration", str(config.get("quick", "?"))),
        ("actbench version", f"{run.get('actbench_version', '?')} "
                             f"(benchmark format {run.get('benchmark_version', '?')})"),
        ("git commit", commit_text(run.get("git_commit"), run.get("git_dirty"))),
        ("created", str(run.get("created", "?"))),
        ("status", str(run.get("status", "?"))),
        ("machine", ", ".join(f"{k}: {v}" for k, v in machine.items()) or "–"),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items()) or "–"),
    ]
    lines = ["## Run summary", "", markdown_table(pd.DataFrame(facts, columns=["", "value"])), ""]
    lines += _environment_lines(data.environment)
    peak = run.get("peak_memory") or {}
    if peak.get("peak_rss_main_mib") is not None:
        lines += [f"Peak memory: main process {float(peak['peak_rss_main_mib']):.0f} MiB, "
                  f"largest worker {float(peak.get('peak_rss_children_mib') or 0):.0f} MiB", ""]
    folds = dataset.get("folds", {}) or {}
    if folds:
        fold_rows = []
        for fold, entry in sorted(folds.items(), key=lambda kv: int(kv[0])):
            counts = entry.get("counts", {}) or {}
            fold_rows.append({"fold": fold, "fingerprint (SHA-256 of the split)":
                              f"`{entry.get('fingerprint', '?')}`",
                              **{k: str(v) for k, v in counts.items()}})
        lines += ["Folds (results are comparable only between runs with the same fingerprint):",
                  "", markdown_table(pd.DataFrame(fold_rows).fillna("–")), ""]
    return lines


def _environment_lines(env: dict[str, Any] | None) -> list[str]:
    """The numerical environment (bench.run.environment): what decides bitwise reproducibility."""
    if not env:
        return ["Numerical environment: not recorded (a run written before actbench recorded "
                "it): `compare` treats it as another environment.", ""]
    flags = env.get("cpu_flags") or {}
    torch = env.get("torch") or {}
    pools = "; ".join(
        f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('prefix')}"
        + (f", {p['architecture']}" if p.get("architecture") else "")
        + f", {p.get('num_threads')} threads)" for p in env.get("threadpools") or [])
    numba = env.get("numba") or {}
    numpy = env.get("numpy") or {}
    opencv = env.get("opencv") or {}
    facts = [
        ("environment key", f"`{env.get('key')}` (runs with the same key must give the same "
                            "bytes; across keys only a statistical comparison is meaningful)"),
        ("simulated instruction set", str(env.get("simulated_isa") or "none")),
        ("CPU", f"{env.get('cpu_model') or '?'} ({env.get('cpu_count')} logical CPUs)"),
        ("kernel-selecting CPU flags", ", ".join(f for f, on in flags.items() if on) or "–"),
        ("device", str(env.get("device"))),
        ("torch", f"{torch.get('version')}, CPU capability {torch.get('cpu_capability')}, "
                  f"{torch.get('num_threads')} threads, oneDNN {torch.get('onednn')}, "
                  f"MKL {torch.get('mkl')}, OpenMP {torch.get('openmp')}, "
                  f"CUDA {torch.get('cuda')}, cuDNN {torch.get('cudnn')}"
                  + (f", GPUs {', '.join(torch['gpus'])}" if torch.get("gpus") else "")
         if torch else "not installed"),
        ("BLAS / OpenMP (threadpoolctl)", pools or "–"),
        ("numpy SIMD dispatch", ", ".join(numpy.get("simd_dispatch") or []) or "baseline only"),
        ("numba target CPU", str(numba.get("cpu_name"))),
        ("OpenCV CPU features", f"{opencv.get('cpu_features')} ({opencv.get('num_threads')} "
                                "threads)" if opencv else "–"),
        ("kernel variables set", ", ".join(f"{k}={v}" for k, v in
                                           (env.get("kernel_env") or {}).items()) or "none"),
    ]
    return ["Numerical environment (what decides bitwise reproducibility):", "",
            markdown_table(pd.DataFrame(facts, columns=["", "value"])), ""]


def noise_section(data: RunData) -> list[str]:
    """Run-to-run noise of a calibrated release record (``noise.csv``) and what it can detect."""
    from bench.report.compare import DEFAULT_TOLERANCE
    from bench.report.noise import (
        DETECTION_SD_FLOOR,
        detectable_drop_text,
        minimal_detectable_drop,
        noise_summary,
        task_sd_floor,
    )

    if data.noise is None:
        return []
    detection = data.task == "detection"
    metric = "mAP@0.5" if detection else "top-1"
    summary = noise_summary(data.noise, floor_points=task_sd_floor(data.task))
    own = data.noise.loc[data.noise["replicate"] == 0, "seed"]
    own_seed = int(own.iloc[0]) if len(own) else None
    others = sorted(int(s) for s in data.noise["seed"].unique() if s != own_seed)
    alpha = 0.05
    table = pd.DataFrame({
        "method": summary["method"].map(lambda m: f"`{m}`"),
        "fold": summary["fold"].astype(str),
        "runs": summary["n_runs"].astype(str),
        f"{metric} % mean ± sd": [f"{r.mean:.1f} ± {r.sd_raw:.1f}"
                                  for r in summary.itertuples()],
        "min – max": [f"{r.min:.1f} – {r.max:.1f}" for r in summary.itertuples()],
        "detectable drop (points)": [
            detectable_drop_text(minimal_detectable_drop(
                r.sd, r.n_runs, len(summary), alpha=alpha, tolerance=DEFAULT_TOLERANCE), r.mean)
            for r in summary.itertuples()],
    })
    return ["## Run-to-run noise", "",
            f"This record (seed {own_seed}) was rerun with seeds {', '.join(map(str, others))} "
            f"(`python -m bench calibrate`); the spread of each method's {metric} over these runs "
            "is the noise the "
            "regression gate is calibrated to. A drop fails the gate when it is significant "
            f"against this noise after Holm's adjustment across all methods (family-wise "
            f"α = {alpha:g}) and larger than {DEFAULT_TOLERANCE:g} points; the *detectable drop* "
            "is the drop below the mean that fails it whatever the other methods do (the sd "
            + (f"used is floored at {DETECTION_SD_FLOOR:g} point of mAP" if detection
               else "used is floored at one video")
            + "). See the README, *Release records and the "
            "regression gate*.", "", markdown_table(table), ""]


def _verdict_text(check: pd.Series) -> str:
    """``verdict (detail)``, the verdict in bold when it is "under-trained at this budget"."""
    from bench.report.convergence import UNDER_TRAINED

    verdict = str(check["verdict"])
    shown = f"**{verdict}**" if verdict == UNDER_TRAINED else verdict
    return f"{shown} ({check['detail']})"


def training_section(data: RunData, figures: Path) -> list[str]:
    """Per-epoch training of the methods that keep a history (the deep track); [] if none."""
    from bench.report.figures import training_curves_figure

    histories = {record.unit.name: (record.unit, record.history, record.timing)
                 for record in data.units or []
                 if record.history is not None and len(record.history)
                 and {"epoch", "train_loss"} <= set(record.history.columns)}
    if not histories:
        return []
    from bench.report.convergence import LAST_SHARE, LOSS_DROP, convergence_table

    checks = convergence_table(data)
    checks = checks[checks["check"] == "epochs"].set_index(["method", "fold"])
    rows = []
    for unit, history, timing in histories.values():
        has_val = "val_acc" in history and history["val_acc"].notna().any()
        budget = (timing.get("budget") or {}).get("epochs")
        key = (unit.method, unit.fold)
        check = checks.loc[key] if key in checks.index else None
        rows.append({
            "method": f"`{unit.method}`", "fold": unit.fold, "epochs run": len(history),
            "budget (epochs)": budget if budget is not None else "–",
            "best epoch": timing.get("best_epoch") or "–",
            "first → last training loss": f"{history['train_loss'].iloc[0]:.2f} → "
                                          f"{history['train_loss'].iloc[-1]:.2f}",
            "best validation acc. %": pct(history["val_acc"].max()) if has_val else "–",
            "train time": format_count(timing.get("train_time_s"), "s"),
            "convergence": "–" if check is None else _verdict_text(check),
        })
    training_curves_figure({name: history for name, (_, history, _) in histories.items()},
                           figures / "training_curves.png")
    return ["## Training", "",
            "Methods that train by epochs, from `units/*/history.csv`. The validation split is "
            "carved from the training fold (a whole group held out when the dataset has "
            "groups); the weights of the best epoch are the ones tested. A unit whose best "
            f"validation epoch lies in the last {LAST_SHARE:.0%} of its epoch budget was still "
            "improving when the budget ran out: it is marked **under-trained at this budget**, "
            "here and in the leaderboard, and its accuracy says more about the budget than "
            "about the method. A unit without a validation split (none asked for, or a held-out "
            "group too small to rank epochs) trains its whole budget, keeps its last epoch and "
            "is judged on its training loss instead: under-trained when the median loss of the "
            f"budget's last {LAST_SHARE:.0%} is more than {LOSS_DROP:.0%} below that of the "
            f"{LAST_SHARE:.0%} before.",
            "",
            markdown_table(pd.DataFrame(rows)), "",
            "![training loss and validation accuracy per epoch](figures/training_curves.png)", ""]


def time_section(data: RunData) -> list[str]:
    """Seconds per stage and track (:mod:`bench.report.costs`); [] for runs without stages."""
    from bench.report.costs import stage_markdown

    table = stage_markdown(data)
    if not table:
        return []
    return ["## Where the time went", "",
            "Seconds per stage of `fit` and `decision_function`, summed over units and folds "
            "(from `units/*/timing.json`, `stages`); % of the track's total. `worker:` rows "
            "break the classical extraction down, summed over the parallel workers, so they "
            "can exceed its wall-clock time and are left out of the shares. "
            "`python -m bench profile RUN_DIR --by method` gives one column per method.", "",
            table, ""]


def _failure_counts(failures: pd.DataFrame) -> pd.DataFrame:
    """Per (method, stage): distinct videos that failed, and the rows of ``failures.csv``.

    A video is listed once per method and fold it failed in (a probe failure once per fold),
    so rows over-count videos; ``videos`` counts each one once.
    """
    videos = failures["video"].where(failures["video"] != WHOLE_UNIT)
    grouped = failures.assign(video=videos).groupby(["method", "stage"], sort=True)
    return grouped.agg(videos=("video", "nunique"), rows=("video", "size")).reset_index()


def _missing_lines(data: RunData) -> list[str]:
    """The videos a run left out because their files are missing (``--allow-missing``)."""
    dataset = data.run.get("dataset", {}) or {}
    missing = [*(dataset.get("missing_excluded") or []),
               *((dataset.get("meta") or {}).get("missing") or [])]
    if not missing:
        return []
    shown = ", ".join(f"`{m}`" for m in missing[:MAX_FAILURE_ROWS])
    more = f" and {len(missing) - MAX_FAILURE_ROWS} more" if len(missing) > MAX_FAILURE_ROWS else ""
    return [f"{len(missing)} annotated video(s) were left out because their files are missing "
            f"(`--allow-missing`; `run.json`, `dataset`): {shown}{more}.", ""]


def failures_section(data: RunData) -> list[str]:
    failures = data.failures
    lines = ["## Failures", ""] + _missing_lines(data)
    if failures.empty:
        return lines + ["No video failed.", ""]
    is_video = failures["video"] != WHOLE_UNIT
    n_videos = failures.loc[is_video, "video"].nunique()
    n_units = len(failures.loc[~is_video, ["method", "fold"]].drop_duplicates())
    summary = (f"{n_videos} distinct video(s) failed ({int(is_video.sum())} row(s) in "
               "`failures.csv`: a video is listed once per method and fold it failed in).")
    if n_units:
        summary += f" {n_units} (method, fold) unit(s) failed as a whole."
    counts = _failure_counts(failures)
    lines += [summary, "", markdown_table(counts.astype(str)), ""]
    shown = failures.head(MAX_FAILURE_ROWS)[["method", "fold", "video", "stage", "reason"]]
    shown = shown.astype(str).replace({"\\|": "/", "\n": " "}, regex=True)
    lines += [markdown_table(shown), ""]
    if len(failures) > MAX_FAILURE_ROWS:
        lines += [f"... and {len(failures) - MAX_FAILURE_ROWS} more in `failures.csv`.", ""]
    return lines
