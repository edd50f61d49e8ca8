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
