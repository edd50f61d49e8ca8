"""bench.data.video: decoding real clips of several codecs, and clear errors on broken files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.data.video import VideoDecodeError, iter_frames, probe_video, read_video


def _count_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_every_real_clip_decodes(real_clips):
    suffixes = {p.suffix for p in real_clips}
    assert {".avi", ".mp4", ".mkv"} <= suffixes
    for path in real_clips:
        info = probe_video(path)
        clip = read_video(path, stride=8)
        n = _count_frames(path)
        assert clip.dtype == np.uint8 and clip.ndim == 4 and clip.shape[-1] == 3
        assert clip.shape[1:3] == (info.height, info.width)
        assert clip.shape[0] == (n + 7) // 8, path.name


def test_options_gray_resize_max_frames(real_clips):
    path = next(p for p in real_clips if p.name == "v_ApplyEyeMakeup_g01_c01.avi")
    full = read_video(path)
    assert full.shape[1:] == (240, 320, 3)
    small = read_video(path, size=112, gray=True, max_frames=5)
    assert small.shape == (5, 112, 149)
    strided = read_video(path, stride=3)
    np.testing.assert_array_equal(strided, full[::3])
    # target fps: 25 fps source at 12.5 fps keeps every other frame
    np.testing.assert_array_equal(read_video(path, fps=12.5), full[::2])
    # RGB order: first frame equals OpenCV's BGR frame reversed on the channel axis
    cap = cv2.VideoCapture(str(path))
    ok, bgr = cap.read()
    cap.release()
    np.testing.assert_array_equal(full[0], bgr[..., ::-1])


def test_streaming_matches_read_video(real_clips):
    path = real_clips[0]
    frames = list(iter_frames(path, stride=5))
    np.testing.assert_array_equal(np.stack(frames), read_video(path, stride=5))


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "folder"])
def test_broken_files_raise_naming_the_file(kind, tmp_path, real_clips):
    src = next(p for p in real_clips if p.name == "v_ApplyEyeMakeup_g01_c01.avi")
    path = tmp_path / f"broken_{kind}.avi"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "truncated":
        path.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(VideoDecodeError) as err:
        read_video(path)
    assert str(path) in str(err.value)
    expected = {"missing": "does not exist", "empty": "empty", "text": "could not open",
                "truncated": "truncated", "folder": "folder"}[kind]
    assert expected in err.value.reason


def test_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        next(iter_frames("x.avi", stride=0))
