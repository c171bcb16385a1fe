"""The slice plot's analysis tools on a real NeXus file: ``.venv/bin/python docs/make_analysis_screenshots.py``.

Opens the APS areaDetector file of the shared corpus (copied to a temporary
folder) in the preview pane, offscreen, and saves:

- ``screenshots/nexus-log-profile.png``: its default plot with a log colour scale and a line profile;
- ``screenshots/statistics.png``: the same plot with a rectangular ROI and the statistics panel
  (slice, ROI and whole array).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"
CORPUS = HERE.parents[1] / "shared" / "corpus" / "hdf5" / "APS_areaDetector_AgBehenate_228.hdf5"


def wait(app, condition, timeout: float = 60.0) -> None:
    """Process events until ``condition()`` holds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the preview did not finish")
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(HERE.parent))
    from PySide6.QtWidgets import QApplication

    from app.viewers.pane import PreviewPane

    app = QApplication.instance() or QApplication([])
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = shutil.copy(CORPUS, tmp)
        pane = PreviewPane()
        pane.resize(1000, 900)
        pane.show()
        done: list[str] = []
        pane.loaded.connect(done.append)
        pane.show_location(path)
        wait(app, lambda: bool(done))
        viewer = pane.current_viewer
        plot = viewer.plot
        wait(app, lambda: plot.result is not None and plot.result.complete)
        plot.set_colormap("inferno")
        plot.set_scale("log")
        plot.aspect.setChecked(False)
        plot.set_line((60, 40), (430, 160))  # across the rings, view coordinates (x, y)
        plot.split.setSizes([560, 200])
        for _ in range(20):
            app.processEvents()
        assert plot.grab().save(str(OUT / "nexus-log-profile.png"))
        print("wrote", OUT / "nexus-log-profile.png")

        plot.show_profile(False)
        plot.set_roi(200, 60, 90, 70)
        plot.compute_array_stats()
        wait(app, lambda: plot.array_stats is not None)
        for _ in range(20):
            app.processEvents()
        assert plot.grab().save(str(OUT / "statistics.png"))
        print("wrote", OUT / "statistics.png")
        pane.close()


if __name__ == "__main__":
    main()
