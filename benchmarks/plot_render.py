"""Rendering a frame larger than the view: pyqtgraph's downsample against the plot's strided one, in one run.

An ``ImageItem(autoDownsample=True)`` averages a plane down to screen
resolution on every render, on the GUI thread.  pyqtgraph's
``functions.downsample`` takes a mean over a reshaped axis of length n;
``app.plot.pg_patches.strided_downsample`` sums the n strided slices.  This
prints, for float32 planes of 1024² and 4096², the median time of each along
both axes and the ratio, then a whole ``ImageItem.render()`` of a 1024² plane
shown in a 400-pixel view with pyqtgraph's function and with the patch.

    .venv/bin/python benchmarks/plot_render.py [--repeat 15] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="1024² only, 5 repeats")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on its own line")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else args.repeat
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import pyqtgraph as pg
    import pyqtgraph.functions as fn

    from app.plot.pg_patches import strided_downsample

    original = fn.downsample
    results: dict[str, float] = {}
    rng = np.random.default_rng(0)
    sides = [1024] if args.quick else [1024, 4096]
    print(f"{'plane':>10} {'n':>2} {'axis':>4} {'pyqtgraph':>10} {'strided':>9} {'ratio':>6}")
    for side in sides:
        plane = rng.random((side, side), dtype=np.float32)
        for n in (2, 4):
            for axis in (1, 0):
                theirs = median_ms(lambda p=plane, k=n, a=axis: original(p, k, axis=a), repeat)
                ours = median_ms(lambda p=plane, k=n, a=axis: strided_downsample(p, k, a), repeat)
                results[f"downsample_{side}_n{n}_axis{axis}_ratio"] = round(ours / theirs, 3)
                print(f"{side:>9}² {n:>2} {axis:>4} {theirs:>8.2f}ms {ours:>7.2f}ms {ours / theirs:>6.3f}")
    # a whole render of a 1024² plane in a view half its size
    view = pg.GraphicsLayoutWidget()
    view.resize(400, 400)  # a 1024² plane at under half a device pixel per value: downsampled by 2 or more
    box = view.addViewBox()
    item = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
    box.addItem(item)
    item.setImage(rng.random((1024, 1024), dtype=np.float32), autoLevels=True)
    view.show()
    app.processEvents()
    box.autoRange(padding=0)
    app.processEvents()
    view.grab()  # one paint: the view's transform is set, so render() downsamples to it

    def render() -> None:
        item.qimage = None
        item.render()

    theirs = median_ms(render, repeat)
    fn.downsample = lambda data, n, axis=0, nanPolicy="propagate": (  # noqa: N803
        strided_downsample(data, n, axis) if isinstance(axis, int) and nanPolicy == "propagate" else
        original(data, n, axis=axis, nanPolicy=nanPolicy))  # fmt: skip
    try:
        ours = median_ms(render, repeat)
    finally:
        fn.downsample = original
    results["render_1024_ms_pyqtgraph"] = round(theirs, 2)
    results["render_1024_ms_strided"] = round(ours, 2)
    results["render_1024_ratio"] = round(ours / theirs, 3)
    print(f"ImageItem.render() of a 1024² plane in a 400-pixel view: pyqtgraph {theirs:.2f} ms, strided {ours:.2f} ms "
          f"(ratio {ours / theirs:.3f}; downsample factors {item._lastDownsample})")  # fmt: skip
    view.close()
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
