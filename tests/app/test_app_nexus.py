"""NeXus default plots and array conventions in real windows (pytest-qt, offscreen)."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
from corpus import HDF5_CORPUS
from PySide6.QtCore import Qt
from window_helpers import show, wait_loaded

from app.models.mounts_model import NAME
from app.mounts import MountSpec
from app.viewers.array_viewer import ArrayViewer
from app.viewers.nexus_viewer import NexusViewer
from app.viewers.summary_viewer import SummaryViewer

CORPUS = str(HDF5_CORPUS)



def is_bold(window, node) -> bool:  # noqa: ANN001
    """True when the tree shows ``node``'s name in bold."""
    font = window.model.index_of(node).data(Qt.ItemDataRole.FontRole)
    return font is not None and font.bold()

def _write_nexus(path: str, *, curve: bool = False) -> str:
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        entry.create_dataset("title", data=np.array([b"Silver behenate calibration"]))
        other = entry.create_group("other")
        other.attrs["NX_class"] = "NXdata"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "counts"
        if curve:
            data.attrs["axes"] = ["energy"]
            data.attrs["auxiliary_signals"] = ["monitor"]
            c = data.create_dataset("counts", data=np.array([1.0, 4.0, 9.0, 16.0, 25.0]))
            data.create_dataset("counts_errors", data=np.sqrt([1.0, 4.0, 9.0, 16.0, 25.0]))
            data.create_dataset("monitor", data=np.full(5, 3.0))
            e = data.create_dataset("energy", data=np.array([1.0, 2.0, 4.0, 8.0, 16.0]))  # not uniform
            e.attrs["long_name"] = "Photon energy"
            e.attrs["units"] = "keV"
        else:
            data.attrs["axes"] = ["y", "x"]
            data.attrs["x_indices"] = 1
            data.attrs["y_indices"] = 0
            c = data.create_dataset("counts", data=np.arange(40 * 60, dtype="f4").reshape(40, 60))
            x = data.create_dataset("x", data=np.linspace(-3.0, 3.0, 60))
            x.attrs["units"] = "mm"
            x.attrs["long_name"] = "Detector x"
            y = data.create_dataset("y", data=np.arange(40) * 0.5)
            y.attrs["units"] = "mm"
        c.attrs["long_name"] = "Intensity"
        c.attrs["units"] = "counts"
    return path


def test_selecting_a_nexus_file_in_the_window_shows_its_default_plot(qtbot, window, tmp_path):
    path = _write_nexus(str(tmp_path / "scan.nxs.h5"))
    window.add_mount(MountSpec("data", str(tmp_path), "local"))
    wait_loaded(qtbot, window, str(tmp_path))
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == path):
        window.reveal(path)
    viewer = window.preview.current_viewer
    assert isinstance(viewer, NexusViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.mode == "image" and plot.source.shape == (40, 60)
    assert plot.plot.getAxis("bottom").labelText == "Detector x (mm)"
    assert plot.plot.getAxis("left").labelText == "y (mm)"
    assert plot.hist.axis.labelText == "Intensity (counts)"
    assert plot.plot.titleLabel.text == "Silver behenate calibration"  # the entry's title
    assert "/entry/data/counts" in viewer.heading.text()
    # x is uniform: the image ticks are in millimetres
    assert plot.plot.getAxis("bottom").scale_map == pytest.approx((-3.0 - 3.0 / 59, 6.0 / 59))
    # the cursor readout names the axis values
    index = (10, 59)
    assert "Detector x (mm) = 3" in plot._coord_text(index)


def test_tree_marks_nx_classes_and_the_default_entry(qtbot, window, tmp_path):
    path = _write_nexus(str(tmp_path / "scan.h5"))
    window.add_mount(MountSpec("scan", path, "hdf5"))
    wait_loaded(qtbot, window, path)
    entry = window.model.find_loaded(f"{path}::/entry")
    assert entry is not None and "NXentry" in entry.kind_text
    assert is_bold(window, entry)
    window.model.fetchMore(window.model.index_of(entry))
    wait_loaded(qtbot, window, f"{path}::/entry")
    data = window.model.find_loaded(f"{path}::/entry/data")
    other = window.model.find_loaded(f"{path}::/entry/other")
    assert "NXdata" in data.kind_text and "NX_class: NXdata" in window.model.index_of(data).data(Qt.ItemDataRole.ToolTipRole)
    assert is_bold(window, data) and not is_bold(window, other)
    assert window.model.index_of(data, NAME).isValid()


def test_curve_with_errors_auxiliary_and_default_plot_action(qtbot, pane, tmp_path):
    path = _write_nexus(str(tmp_path / "curve.h5"), curve=True)
    viewer = show(qtbot, pane, f"{path}::/entry")  # the NXentry follows its @default too
    assert isinstance(viewer, NexusViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None and plot.error_bars.isVisible(), timeout=15_000)
    assert plot.mode == "curve"
    x, y = plot.curve.getData()
    np.testing.assert_allclose(x, [1, 2, 4, 8, 16])  # non-uniform axis: the curve's x values
    assert plot.curve_plot.getAxis("bottom").labelText == "Photon energy (keV)"
    assert plot.curve_plot.getAxis("left").labelText == "Intensity (counts)"
    np.testing.assert_allclose(plot.error_bars.opts["height"], 2 * np.sqrt(y))
    assert [viewer.signal_box.itemText(i) for i in range(viewer.signal_box.count())] == ["counts", "monitor"]
    qtbot.waitUntil(lambda: len(viewer._aux_items) == 1, timeout=15_000)  # auxiliary signals overlaid
    np.testing.assert_allclose(viewer._aux_items[0].getData()[1], np.full(5, 3.0))
    viewer.signal_box.setCurrentIndex(1)
    viewer.show_signal(1)
    qtbot.waitUntil(lambda: plot.shown_values() is not None and float(plot.shown_values()[0]) == 3.0, timeout=15_000)
    viewer.default_button.click()
    qtbot.waitUntil(lambda: plot.shown_values() is not None and float(plot.shown_values()[-1]) == 25.0, timeout=15_000)
    # the summary is one choice away, and from there "Default plot" is one click back
    with qtbot.waitSignal(pane.loaded, timeout=15_000):
        pane._load(pane._uri, "SummaryViewer", pane.budget)
    summary = pane.current_viewer
    assert isinstance(summary, SummaryViewer) and summary.default_button.isVisible()
    with qtbot.waitSignal(pane.loaded, timeout=15_000):
        summary.default_button.click()
    assert isinstance(pane.current_viewer, NexusViewer)


def test_bliss_signals_behind_links_go_by_their_group_names(qtbot, pane, tmp_path):
    """bliss links every plotselect signal to a counter's ``data``: the selector and labels say diode and mon."""
    from ecosystem_files import write_bliss

    path = write_bliss(tmp_path / "bliss.h5", tmp_path / "lima_0000.h5")
    viewer = show(qtbot, pane, f"{path}::/1.1")
    assert isinstance(viewer, NexusViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert [viewer.signal_box.itemText(i) for i in range(viewer.signal_box.count())] == ["diode", "mon"]
    assert plot.curve_plot.getAxis("left").labelText == "diode"


def test_plain_groups_keep_the_summary(qtbot, pane, tmp_path):
    path = str(tmp_path / "plain.h5")
    with h5py.File(path, "w") as f:
        f.create_group("g").create_dataset("a", data=np.zeros(3))
    viewer = show(qtbot, pane, path)
    assert isinstance(viewer, SummaryViewer) and not viewer.default_button.isVisible()


def test_netcdf_dimension_scales_and_cf_in_the_array_viewer(qtbot, pane, tmp_path):
    path = str(tmp_path / "climate.nc")
    with h5py.File(path, "w") as f:
        t = f.create_dataset("time", data=np.array([0.0, 6.0, 12.0]))
        t.make_scale("time")
        t.attrs["units"] = "h"
        lon = f.create_dataset("lon", data=np.linspace(0.0, 30.0, 4))
        lon.make_scale("lon")
        lon.attrs["units"] = "degrees_east"
        v = f.create_dataset("temp", data=np.arange(12, dtype="i2").reshape(3, 4))
        v.attrs.update({"scale_factor": 0.5, "add_offset": 270.0, "_FillValue": np.int16(5), "units": "K"})
        v.attrs["long_name"] = "Air temperature"
        v.dims[0].attach_scale(t)
        v.dims[1].attach_scale(lon)
    viewer = show(qtbot, pane, f"{path}::/temp")
    assert isinstance(viewer, ArrayViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.names == ["time", "lon"]
    assert plot.plot.getAxis("bottom").labelText == "lon (degrees_east)"
    assert plot.hist.axis.labelText == "Air temperature (K)"
    values = plot.shown_values()
    assert values[0, 0] == pytest.approx(270.0) and values[0, 1] == pytest.approx(270.5)
    assert np.isnan(values[1, 1])  # raw 5 is the _FillValue
    assert int(np.isnan(values).sum()) == 1


def test_ome_zarr_channels_and_pixel_size_in_the_array_viewer(qtbot, pane, tmp_path):
    import zarr

    g = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w", zarr_format=2)
    g.create_array("0", shape=(2, 16, 16), dtype="u2")[:] = 7
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]  # fmt: skip
    ct = [{"type": "scale", "scale": [1.0, 0.5, 0.25]}]
    g.attrs["multiscales"] = [
        {"version": "0.4", "axes": axes, "datasets": [{"path": "0", "coordinateTransformations": ct}]}
    ]
    g.attrs["omero"] = {"channels": [{"label": "DAPI", "color": "0000FF"}, {"label": "GFP", "color": "00FF00"}]}
    g.create_group("labels").attrs["labels"] = ["nuclei"]
    viewer = show(qtbot, pane, str(tmp_path / "img.ome.zarr"))
    assert isinstance(viewer, ArrayViewer)
    facts = dict(viewer.payload.facts)
    assert "DAPI" in facts["Channels"] and "#0000FF" in facts["Channels"]
    assert facts["Pixel size"] == "y 0.5 µm, x 0.25 µm"
    assert facts["Labels"] == "nuclei"
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.plot.getAxis("bottom").labelText == "x (µm)"
    assert plot.plot.getAxis("bottom").scale_map == pytest.approx((-0.125, 0.25))  # pixel centres at i * 0.25


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not mounted")
def test_corpus_old_style_file_shows_its_plot(qtbot, pane, tmp_path):
    viewer = show(qtbot, pane, os.path.join(CORPUS, "APS_areaDetector_AgBehenate_228.hdf5"))  # read-only use
    assert isinstance(viewer, NexusViewer)
    qtbot.waitUntil(lambda: viewer.plot.shown_values() is not None, timeout=15_000)
    assert viewer.plot.source.shape == (195, 487)


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not mounted")
@pytest.mark.parametrize("name", ["nxdl_NXcanSAS.hdf5", "APS_areaDetector_AgBehenate_228.hdf5"])
def test_corpus_tree_marks(qtbot, window, name):
    path = os.path.join(CORPUS, name)  # read-only use
    window.add_mount(MountSpec(name, path, "hdf5"))
    wait_loaded(qtbot, window, path)
    entry = window.model.find_loaded(f"{path}::/entry")
    assert entry.kind_text.startswith("NXentry group")
    assert is_bold(window, entry)  # @default names it, or (APS: no @default) it is the first NXentry
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == f"{path}::/entry"):
        window.reveal(f"{path}::/entry")
    assert isinstance(window.preview.current_viewer, NexusViewer)


def test_default_plot_action_from_an_array_inside_a_nexus_file(qtbot, window, tmp_path):
    path = _write_nexus(str(tmp_path / "scan.h5"))
    window.add_mount(MountSpec("scan", path, "hdf5"))
    wait_loaded(qtbot, window, path)
    inner = f"{path}::/entry/data/x"
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == inner):
        window.reveal(inner)
    viewer = window.preview.current_viewer
    assert isinstance(viewer, ArrayViewer) and viewer.default_button.isVisible()
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == path):
        viewer.default_button.click()
    assert window.current_node().uri == path
    assert isinstance(window.preview.current_viewer, NexusViewer)


def test_a_signal_dataset_selected_directly_keeps_its_nexus_axes(qtbot, pane, tmp_path):
    path = _write_nexus(str(tmp_path / "scan.h5"))
    viewer = show(qtbot, pane, f"{path}::/entry/data/counts")
    assert isinstance(viewer, ArrayViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.names == ["y", "x"]
    assert plot.plot.getAxis("bottom").labelText == "Detector x (mm)"
    assert plot.hist.axis.labelText == "Intensity (counts)"


def test_a_linked_signal_selected_directly_keeps_its_nxdata_axes(qtbot, pane, tmp_path):
    """An NXdata's signal is most often a link to a detector's data (bliss's plotselect/diode → instrument/diode/
    data): its axes are the NXdata's, where it is selected, not its target's group's."""
    from ecosystem_files import write_bliss

    path = write_bliss(tmp_path / "bliss.h5", tmp_path / "lima_0000.h5")
    viewer = show(qtbot, pane, f"{path}::/1.1/plotselect/diode")
    assert isinstance(viewer, ArrayViewer)
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.names == ["samy"]
    x, _ = plot.curve.getData()
    with h5py.File(path, "r", locking=False) as f:
        np.testing.assert_allclose(x, f["/1.1/instrument/samy/data"][()])


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not mounted")
def test_corpus_master_file_without_its_data_files_says_so(qtbot, pane):
    """The Diamond NXmx master file's frames come from a data file that is not there: the plot says why
    it is blank instead of showing zeros silently."""
    viewer = show(qtbot, pane, os.path.join(CORPUS, "DLS_NXmx_Therm_6_2.nxs"))  # read-only use
    assert isinstance(viewer, NexusViewer)
    assert viewer.note.isVisibleTo(viewer) and "external link to Therm_6_2_000001.h5" in viewer.note.text()


def test_a_cf_scaled_gzip_stack_is_read_frame_by_frame(qtbot, pane, tmp_path, monkeypatch):
    """netCDF-4 files pack values (scale_factor) in gzip chunks: the decoded view still reads frames, not chunk boxes."""
    from storecore.containers import h5chunks

    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    path = str(tmp_path / "packed.nc")
    raw = (np.arange(16 * 20 * 24) % 300).astype("i2").reshape(16, 20, 24)
    with h5py.File(path, "w") as f:
        v = f.create_dataset("t2m", data=raw, chunks=(16, 20, 24), compression="gzip")
        v.attrs.update({"scale_factor": 0.25, "add_offset": 200.0, "units": "K"})
    viewer = show(qtbot, pane, f"{path}::/t2m")
    plot = viewer.plot
    qtbot.waitUntil(lambda: plot.shown_values() is not None, timeout=15_000)
    assert plot.source.prefix_reads  # the CF-decoding wrapper keeps the capability of what it wraps
    np.testing.assert_allclose(plot.shown_values(), raw[0] * 0.25 + 200.0)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10_000):
        plot.sliders.set_value(0, 9)
    np.testing.assert_allclose(plot.shown_values(), raw[9] * 0.25 + 200.0)
