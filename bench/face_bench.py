"""Speed of each face engine: detect + encode milliseconds per photo at 1024 px, one process.

Run: python bench/face_bench.py [--engines sface,dlib] [--faces DIR] [--repeats 3]
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import cv2

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from service.matching.engine import decode_image, get_engine  # noqa: E402

DEFAULT_FACES = Path(os.environ.get("HUIJIA_FACES", PROJECT_ROOT.parent / "shared" / "faces"))
SPEED_SIDE = 1024


def speed_photos(faces_dir: Path, side: int = SPEED_SIDE) -> list[Path]:
    """Dev photos whose longest side is `side` (real photos at the detection size, not crops)."""
    with open(faces_dir / "manifest.csv", newline="") as fh:
        paths = [faces_dir / row["file"] for row in csv.DictReader(fh)]
    chosen = []
    for path in paths:
        height, width = decode_image(path.read_bytes()).shape[:2]
        if max(height, width) == side:
            chosen.append(path)
    return chosen


def measure(engine_name: str, photos: list[Path], repeats: int = 3, threads: int | None = 1) -> dict:
    """Median and mean ms of engine.analyze (decode excluded) over `photos`, after one warm-up."""
    previous = cv2.getNumThreads()
    if threads is not None:
        cv2.setNumThreads(threads)  # one core per worker process is how production runs
    try:
        engine = get_engine(engine_name)
        images = [decode_image(p.read_bytes()) for p in photos]
        engine.analyze(images[0])  # first inference allocates buffers
        times = []
        for _ in range(repeats):
            for rgb in images:
                started = time.perf_counter()
                engine.analyze(rgb)
                times.append((time.perf_counter() - started) * 1000)
        decode_started = time.perf_counter()
        for p in photos:
            decode_image(p.read_bytes())
        decode_ms = (time.perf_counter() - decode_started) * 1000 / len(photos)
    finally:
        cv2.setNumThreads(previous)
    return {
        "engine": engine_name,
        "version": engine.version,
        "photos": len(photos),
        "runs": len(times),
        "opencv_threads": threads if threads is not None else previous,
        "ms_median": round(statistics.median(times), 1),
        "ms_mean": round(statistics.fmean(times), 1),
        "ms_p90": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
        "decode_ms_mean": round(decode_ms, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sface,dlib")
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    photos = speed_photos(args.faces)
    for name in args.engines.split(","):
        for threads in (1, None):
            result = measure(name, photos, args.repeats, threads)
            print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
