"""Fixtures of the deep track's tests shared across modules."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def quick_set(tmp_path_factory):
    """The quick untrimmed set and fold 1 as detector inputs (absolute paths, segments)."""
    from bench.data.datasets.untrimmed import generate_untrimmed, untrimmed_params

    root = tmp_path_factory.mktemp("untrimmed")
    ds = generate_untrimmed(root=root, params=untrimmed_params("quick"), seed=0, jobs=1)
    paths = {v: str(ds.root / p) for v, p in zip(ds.videos.video_id, ds.videos.path, strict=True)}
    train, test = ds.subset(1, "train").video_id, ds.subset(1, "test").video_id
    seg = ds.segments[ds.segments.video_id.isin(train)]
    segments = pd.DataFrame({"video": [paths[v] for v in seg.video_id],
                             "t_start": seg.t_start.to_numpy(), "t_end": seg.t_end.to_numpy(),
                             "label": seg.label_id.to_numpy().astype(int)})
    return dict(ds=ds, paths=paths, segments=segments, root=root,
                train=np.array([paths[v] for v in train], dtype=object),
                test=np.array([paths[v] for v in test], dtype=object))


@pytest.fixture(scope="session")
def quick_boxes(quick_set):
    """Fold 1 of the quick untrimmed set as localization inputs: the training keyframe boxes
    in the method protocol's columns, and the test ones (``video`` the absolute path)."""
    from bench.data.datasets.localization_truth import keyframe_boxes

    boxes = keyframe_boxes(quick_set["ds"]).boxes
    paths = quick_set["paths"]

    def protocol(rows):
        return pd.DataFrame({
            "video": [paths[v] for v in rows.video_id],
            "timestamp": rows.timestamp.to_numpy(np.float64),
            "frame": rows.frame.to_numpy(np.int64),
            **{c: rows[c].to_numpy(np.float64) for c in ("x1", "y1", "x2", "y2")},
            "label": rows.label.to_numpy(np.int64),
            "person_id": rows.person_id.to_numpy(np.int64)})

    train_ids = {paths[v] for v in quick_set["ds"].subset(1, "train").video_id}
    table = protocol(boxes)
    return dict(train=table[table.video.isin(train_ids)].reset_index(drop=True),
                test=table[~table.video.isin(train_ids)].reset_index(drop=True))
