"""The few lines of Python that open a location with storecore (the window's "Copy as Python")."""

from __future__ import annotations

from collections.abc import Sequence


def _selection(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "(0,) * (node.ndim - 2)"  # index 0 on the leading axes: the first 2-D plane
    nd = len(shape)
    if nd == 0:
        return "()"
    if nd == 1:
        return f":{min(int(shape[0]), 1000)}"
    return ", ".join(["0"] * (nd - 2) + [":", ":"])


def python_snippet(uri: str, kind: str = "file", shape: Sequence[int] | None = None) -> str:
    """Python that opens ``uri`` and reads a slice of it (arrays), lists it (groups, folders) or loads it (files).

    ``kind`` is the browser's kind: ``array``, ``link``, ``group``, ``container``,
    ``folder``, ``mount`` or ``file``; ``shape`` (when known) makes the slice literal.
    """
    u = repr(str(uri))
    if kind in ("array", "link"):
        return (
            "import storecore\n\n"
            f"node = storecore.open_container({u})\n"
            "print(node.shape, node.dtype, node.chunks)\n"
            f"data = node[{_selection(shape)}]  # reads only the chunks this slice touches\n"
            "# lazily, chunked like the store (pip install 'storescope[cluster]'):\n"
            "# arr = node.to_dask()\n"
        )
    if kind in ("group", "container"):
        return (
            "import storecore\n\n"
            f"group = storecore.open_container({u})\n"
            "for child in group.children():\n"
            "    print(child.kind, child.name, child.shape, child.dtype)\n"
            "# as an xarray.Dataset (pip install 'storescope[cluster]'):\n"
            f"# ds = storecore.open_dataset({u})\n"
        )
    if kind in ("folder", "mount"):
        return (
            "import storecore\n\n"
            f"backend, loc = storecore.backend_for({u})\n"
            "for entry in backend.ls(loc.path):\n"
            "    print(entry.name, entry.size, entry.is_dir)\n"
        )
    return f"import storecore\n\ndata = storecore.load({u})\n"
