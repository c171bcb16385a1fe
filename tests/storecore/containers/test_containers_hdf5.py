"""HDF5 files as node trees: local, and through the ranged reader on a memory backend (S3: test_containers_s3.py)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
from test_containers_zarr import KINDS, SHAPES, assert_same, sample, selections

from storecore.containers import detect_format, is_container, open_container
from storecore.errors import CorruptData, FormatError, InvalidArgument, NotFound, StorecoreError
from storecore.transfer import copy

H5_ATTRS = {
    "int": 7,
    "float": 2.5,
    "str": "héllo",
    "bytes": "raw",
    "true": True,
    "null": None,
    "ints": [1, 2, 3],
    "floats": [0.5, 1.5],
    "strs": ["a", "bc"],
    "complex": "(1+2j)",
    "ref": "/arrays/float_3d",
}


def build_h5(folder: str) -> str:
    """tree.h5 (groups, attributes, arrays, links) next to ext.h5 (target of an external link)."""
    import h5py

    with h5py.File(os.path.join(folder, "ext.h5"), "w") as e:
        e["data"] = np.arange(6.0)
    path = os.path.join(folder, "tree.h5")
    with h5py.File(path, "w") as f:
        deep = f.create_group("a/b/c")
        deep.attrs["depth"] = np.int32(3)
        arrays = f.create_group("arrays")
        for kind in KINDS:
            for ndim in SHAPES:
                data = sample(kind, ndim)
                if kind == "string":
                    data = data.astype(object).astype(h5py.string_dtype())
                kw = {}
                if ndim % 2:  # odd: chunked + gzip + shuffle; even: contiguous raw
                    kw = {"chunks": tuple(max(1, s // 2) for s in data.shape), "compression": "gzip", "shuffle": True}
                arrays.create_dataset(f"{kind}_{ndim}d", data=data, **kw)
        target = arrays["float_3d"]
        a = f.attrs
        a["int"] = np.int64(7)
        a["float"] = np.float32(2.5)
        a["str"] = "héllo"
        a["bytes"] = np.bytes_(b"raw")
        a["true"] = np.bool_(True)
        a["null"] = h5py.Empty("f4")
        a["ints"] = np.array([1, 2, 3], dtype="u2")
        a["floats"] = np.array([0.5, 1.5])
        a["strs"] = np.array(["a", "bc"], dtype=h5py.string_dtype())
        a["complex"] = np.complex64(1 + 2j)
        a["ref"] = target.ref
        links = f.create_group("links")
        links["soft"] = h5py.SoftLink("/arrays/float_3d")
        links["relative"] = h5py.SoftLink("../a/b")
        links["broken"] = h5py.SoftLink("/nowhere")
        links["external"] = h5py.ExternalLink("ext.h5", "/data")
        links["external_missing_file"] = h5py.ExternalLink("missing.h5", "/data")
        links["external_missing_path"] = h5py.ExternalLink("ext.h5", "/nope")
        links["ref"] = target.ref
        links["refs"] = np.array([target.ref, deep.ref], dtype=h5py.ref_dtype)
    return path


@pytest.fixture(scope="module")
def h5_dir(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("h5"))
    build_h5(folder)
    return folder


@pytest.fixture(params=["local", "memory"])
def h5_uri(request, h5_dir, memory_root) -> str:
    """tree.h5 on local disk or (with ext.h5) in a memory store, read through ranged requests."""
    if request.param == "local":
        return os.path.join(h5_dir, "tree.h5")
    copy(h5_dir, f"{memory_root}/h5")
    return f"{memory_root}/h5/tree.h5"


def test_tree_and_attributes(h5_uri):
    with open_container(h5_uri) as root:
        assert root.kind == "group" and root.name == "tree.h5"
        assert [c.name for c in root.children()] == ["a", "arrays", "links"]
        assert root.attrs == H5_ATTRS
        assert json.loads(json.dumps(root.attrs)) == H5_ATTRS
        c = root.get("/a/b/c")
        assert c.kind == "group" and c.attrs == {"depth": 3} and list(c.children()) == []
        assert [n.path for n in root["a"].children()] == ["/a/b"]
        assert c.parent().parent().path == "/a"
        assert len(list(root["arrays"].children())) == len(KINDS) * len(SHAPES)
        if h5_uri.startswith("memory://"):
            assert root.container.bytes_read > 0 and root.container.reader.requests > 0
        else:
            assert root.container.bytes_read is None  # h5py reads local files itself


@pytest.mark.parametrize("kind", KINDS)
def test_datasets_read_like_numpy(h5_uri, kind):
    with open_container(h5_uri) as root:
        for ndim in SHAPES:
            want = sample(kind, ndim)
            node = root.get(f"/arrays/{kind}_{ndim}d")
            assert node.kind == "array" and node.shape == want.shape
            if kind != "string":
                assert node.dtype == want.dtype
            else:
                assert node.dtype == np.dtype(object)
            for sel in selections(ndim):
                assert_same(node[sel], want[sel])


def test_dataset_metadata(h5_uri):
    import h5py

    with open_container(h5_uri) as root:
        packed, raw = root["arrays/int_3d"], root["arrays/int_2d"]
        assert packed.chunks == (2, 2, 1) and raw.chunks is None
        assert packed.compressor == "gzip(4)" and packed.filters == ["shuffle"]
        assert raw.compressor is None and raw.filters == []
        assert packed.fill_value == 0
        assert raw.stored_nbytes == raw.nbytes
        assert packed.nbytes == sample("int", 3).nbytes
        assert isinstance(packed.lazy(), h5py.Dataset)
        assert json.dumps(packed.info())


def test_links_show_as_links(h5_uri):
    with open_container(h5_uri) as root:
        kids = {c.name: c for c in root["links"].children()}
        assert set(kids) == {
            "soft", "relative", "broken", "external", "external_missing_file", "external_missing_path", "ref", "refs",
        }
        soft = kids["soft"]
        assert soft.kind == "link" and soft.link_type == "soft" and soft.link_target == "/arrays/float_3d"
        assert not soft.broken and soft.shape == (4, 5, 3)
        assert_same(soft[1, ::-1], sample("float", 3)[1, ::-1])
        assert soft.target().path == "/arrays/float_3d"
        rel = kids["relative"]  # "../a/b": HDF5 has no parent step (".." is a name), so h5py finds nothing there
        assert rel.broken and rel.link_target == "../a/b"
        broken = kids["broken"]
        assert broken.broken and broken.link_target == "/nowhere" and broken.shape is None
        with pytest.raises(NotFound):
            broken.target()
        with pytest.raises(NotFound):
            broken[0]
        ext = kids["external"]
        assert ext.link_type == "external" and ext.link_target == "ext.h5::/data" and not ext.broken
        assert ext[::-2].tolist() == [5.0, 3.0, 1.0]
        assert kids["external_missing_file"].broken and kids["external_missing_path"].broken
        ref = kids["ref"]
        assert ref.link_type == "reference" and ref.link_target == "/arrays/float_3d" and ref.shape == (4, 5, 3)
        refs = kids["refs"]
        assert refs.kind == "array" and refs[:].tolist() == ["/arrays/float_3d", "/a/b/c"]
        # Opening a link by URI gives the link node.
        assert root.get("/links/broken").broken


def test_missing_and_bad_paths(h5_uri, tmp_path):
    with open_container(h5_uri) as root:
        with pytest.raises(NotFound):
            root.get("/arrays/nope")
        with pytest.raises(NotFound):
            root.get("/nope/deeper")
        with pytest.raises(NotFound):
            root.get("/arrays/int_1d/below")
        with pytest.raises(InvalidArgument):
            root["a"][0]
    with pytest.raises(NotFound):
        open_container(f"{h5_uri}::/missing")
    with pytest.raises(NotFound):
        open_container(str(tmp_path / "absent.h5"))


def read_everything(uri: str) -> None:
    """Open ``uri`` and read every array (a truncation past the superblock shows only then)."""
    root = open_container(uri)
    try:
        for node in root["arrays"].children():
            node.read_slice(())
    finally:
        root.close()


def test_truncated_and_garbage_files(h5_dir, tmp_path, memory_root):
    good = open(os.path.join(h5_dir, "tree.h5"), "rb").read()
    (tmp_path / "truncated.h5").write_bytes(good[: len(good) // 3])
    (tmp_path / "garbage.h5").write_bytes(b"this is not hdf5" * 100)
    (tmp_path / "empty.h5").write_bytes(b"")
    copy(str(tmp_path / "truncated.h5"), f"{memory_root}/truncated.h5")
    for uri in (str(tmp_path / "truncated.h5"), str(tmp_path / "garbage.h5"), str(tmp_path / "empty.h5"),
                f"{memory_root}/truncated.h5"):
        with pytest.raises(CorruptData) as e:
            read_everything(uri)
        assert os.path.basename(uri) in str(e.value)
        assert isinstance(e.value, StorecoreError)
    (tmp_path / "folder.h5").mkdir()
    with pytest.raises(FormatError):
        open_container(str(tmp_path / "folder.h5"))


def test_corrupt_chunk_is_named(tmp_path):
    import h5py

    path = tmp_path / "chunky.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("x", data=np.arange(1000.0), chunks=(100,), compression="gzip")
        info = ds.id.get_chunk_info(3)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(raw))
    with open_container(str(path)) as root:
        assert root["x"][:300].tolist() == list(np.arange(300.0))
        with pytest.raises(CorruptData) as e:
            root["x"][250:350]
        assert "chunky.h5::/x" in str(e.value)


def test_detection(h5_dir, tmp_path):
    assert is_container("x.h5") and not is_container("x.bin")
    copy(os.path.join(h5_dir, "ext.h5"), str(tmp_path / "noext"))
    assert is_container(str(tmp_path / "noext"), probe=True)
    assert detect_format(str(tmp_path / "noext")) == "hdf5"
    with open_container(str(tmp_path / "noext")) as root:
        assert root["data"][-1] == 5.0
    (tmp_path / "text.bin").write_bytes(b"hello")
    with pytest.raises(FormatError):
        open_container(str(tmp_path / "text.bin"))


# -- HDF5-specific writing ------------------------------------------------------------------------
def test_new_hdf5_file_is_written_atomically(tmp_path):
    from storecore.containers import write_array

    target = tmp_path / "out" / "new.h5"
    write_array(f"{target}::/a/b", np.arange(4))
    assert sorted(os.listdir(tmp_path / "out")) == ["new.h5"]  # no temporary left behind
    with open_container(str(target)) as root:
        assert root["a/b"][:].tolist() == [0, 1, 2, 3]


def test_hdf5_write_refusals_keep_the_file(h5_dir, tmp_path, memory_root):
    from storecore.containers import set_attrs, write_array
    from storecore.errors import AlreadyExists, ModeError

    path = tmp_path / "tree.h5"
    copy(os.path.join(h5_dir, "tree.h5"), str(path))
    original = path.read_bytes()
    reader = open_container(str(path))
    try:
        with pytest.raises(ModeError):
            write_array(f"{path}::/new", np.zeros(2))
    finally:
        reader.close()
    with pytest.raises(AlreadyExists):
        write_array(f"{path}::/arrays/int_1d/child", np.zeros(2))  # a dataset cannot hold children
    assert path.read_bytes() == original
    # Corrupt existing files are reported, locally and remotely, and left as they were.
    (tmp_path / "cut.h5").write_bytes(original[:500])
    copy(str(tmp_path / "cut.h5"), f"{memory_root}/cut.h5")
    for uri in (str(tmp_path / "cut.h5"), f"{memory_root}/cut.h5"):
        with pytest.raises(CorruptData) as e:
            write_array(f"{uri}::/x", np.zeros(2))
        assert "cut.h5" in str(e.value)
    assert (tmp_path / "cut.h5").read_bytes() == original[:500]
    # A remote edit is uploaded whole; a refused one uploads nothing.
    copy(str(path), f"{memory_root}/tree.h5")
    set_attrs(f"{memory_root}/tree.h5::/a", {"edited": True})
    with pytest.raises(AlreadyExists):
        write_array(f"{memory_root}/tree.h5::/arrays/int_1d", np.zeros(2))
    with open_container(f"{memory_root}/tree.h5") as root:
        assert root["a"].attrs == {"edited": True}
        assert root["arrays/int_1d"][:].tolist() == sample("int", 1).tolist()


def test_concurrent_reads_from_threads(h5_uri):
    from concurrent.futures import ThreadPoolExecutor

    with open_container(h5_uri) as root:
        jobs = [(kind, ndim, sel) for kind in ("int", "float", "complex") for ndim in SHAPES for sel in selections(ndim)]

        def read(job):
            kind, ndim, sel = job
            return root.get(f"/arrays/{kind}_{ndim}d")[sel]

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(read, jobs))
        for (kind, ndim, sel), got in zip(jobs, results, strict=True):
            assert_same(got, sample(kind, ndim)[sel])


def test_storage_errors_are_not_reported_as_corruption(h5_dir, memory_root):
    uri = f"{memory_root}/gone.h5"
    copy(os.path.join(h5_dir, "tree.h5"), uri)
    with open_container(uri) as root:
        node = root["arrays/float_5d"]
        root.container.backend.delete(root.container.location.path)  # the object vanishes mid-session
        with pytest.raises(NotFound) as e:
            for sel in selections(5):
                node[sel]
        assert "gone.h5" in str(e.value) and not isinstance(e.value, CorruptData)


def test_references_inside_attributes_and_compound_fields_are_paths(tmp_path):
    """Dimension scales (netCDF-4 and the h5py dims API write DIMENSION_LIST, a sequence of references per axis,
    and REFERENCE_LIST, a compound with a reference field), 2-D reference attributes and compound datasets with a
    reference field: every reference shows as the path it points to, as h5py resolves it."""
    path = str(tmp_path / "refs.h5")
    with h5py.File(path, "w") as f:
        f["z"] = np.zeros((2, 3))
        f["t"], f["x"] = [0.0, 1.0], [5.0, 6.0, 7.0]
        f["t"].make_scale("time")
        f["x"].make_scale("x")
        f["z"].dims[0].attach_scale(f["t"])
        f["z"].dims[1].attach_scale(f["x"])
        f["z"].attrs["grid"] = np.array([[f["t"].ref, f["x"].ref], [f["x"].ref, f["z"].ref]], dtype=h5py.ref_dtype)
        rec = np.array([(1, f["t"].ref), (2, f["x"].ref), (3, f["z"].ref)], dtype=[("n", "i4"), ("r", h5py.ref_dtype)])
        f.create_dataset("rec", data=rec)
        f["rec"].attrs["one"] = rec[1]
    with h5py.File(path, "r", locking=False) as f:  # the oracle
        dims = [[f[r].name for r in axis] for axis in f["z"].attrs["DIMENSION_LIST"]]
        scale_of = [{"dataset": f[row["dataset"]].name, "dimension": int(row["dimension"])}
                    for row in f["x"].attrs["REFERENCE_LIST"]]
        grid = [[f[r].name for r in row] for row in f["z"].attrs["grid"]]
        fields = [(int(n), f[r].name) for n, r in f["rec"][:]]
    with open_container(path) as root:
        z, x, rec = root.container.node("/z"), root.container.node("/x"), root.container.node("/rec")
        assert z.attrs["DIMENSION_LIST"] == dims == [["/t"], ["/x"]]
        assert z.attrs["grid"] == grid
        assert x.attrs["REFERENCE_LIST"] == scale_of == [{"dataset": "/z", "dimension": 1}]
        assert rec.attrs["one"] == {"n": 2, "r": "/x"}
        got = rec[:]
        assert got.dtype.names == ("n", "r") and [(int(n), r) for n, r in got] == fields
        assert [(int(n), r) for n, r in rec[1:]] == fields[1:]


def test_opaque_attributes_keep_every_byte_as_hex(tmp_path):
    """Opaque attribute values (``np.void``) are bytes, not text: shown as hex with trailing zero bytes kept."""
    path = str(tmp_path / "opaque.h5")
    with h5py.File(path, "w") as f:
        f.attrs["blob"] = np.void(b"\x01\x00\x00")
        f.attrs["zeros"] = np.void(b"\x00\x00")
        f.attrs["many"] = np.array([b"\xff\x00", b"\x00\x01"], "V2")
    with h5py.File(path, "r", locking=False) as f:
        oracle = {k: (v.tobytes().hex() if isinstance(v, np.void) else [x.tobytes().hex() for x in v])
                  for k, v in f.attrs.items()}
    with open_container(path) as root:
        assert root.attrs == oracle == {"blob": "010000", "zeros": "0000", "many": ["ff00", "0001"]}


def test_a_tagged_opaque_dataset_reads_its_bytes(tmp_path):
    """Opaque types with a tag (as C and Fortran writers make them) have no HDF5 conversion to h5py's untagged
    type: they read as their own type, the same bytes h5py's low-level read gives, never "corrupt"."""
    path = str(tmp_path / "tagged.h5")
    with h5py.File(path, "w") as f:
        kind = h5py.h5t.create(h5py.h5t.OPAQUE, 3)
        kind.set_tag(b"raw sensor bytes")
        ds = h5py.h5d.create(f.id, b"blob", kind, h5py.h5s.create_simple((3, 2)))
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([[b"abc", b"def"], [b"ghi", b"jkl"], [b"\0\0\0", b"x\0y"]],
                                                      dtype="V3"), mtype=kind)  # fmt: skip
    with h5py.File(path, "r", locking=False) as f:  # the oracle: a read as the file's own type
        d = f["blob"]
        oracle = np.empty((3, 2), "V3")
        d.id.read(h5py.h5s.ALL, h5py.h5s.ALL, oracle, mtype=d.id.get_type())
    with open_container(f"{path}::/blob") as node:
        for sel in ((), (1,), (slice(0, 2), 1), (2, 1), (slice(None, None, 2),)):
            np.testing.assert_array_equal(node.read_slice(sel, cache=False), oracle[sel])


def test_layouts_are_named(tmp_path):
    """The metadata says how values are stored: a virtual dataset is not "contiguous"."""
    path = str(tmp_path / "layouts.h5")
    with h5py.File(path, "w") as f:
        f["contiguous"] = np.arange(4)
        f.create_dataset("chunked", data=np.arange(4), chunks=(2,))
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)
        h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, h5py.h5s.create_simple((4,)), plist)
        layout = h5py.VirtualLayout((4,), "i8")
        layout[:] = h5py.VirtualSource(".", "/contiguous", shape=(4,))
        f.create_virtual_dataset("virtual", layout)
        f.create_dataset("external", shape=(4,), dtype="i4", external=[(str(tmp_path / "raw.bin"), 0, 16)])
        f["link"] = h5py.SoftLink("/virtual")
    with open_container(path) as root:
        assert root.layout is None
        names = ("contiguous", "chunked", "compact", "virtual", "external")
        assert {n: root.container.node(f"/{n}").layout for n in names} == {n: n for n in names}
        assert root.container.node("/link").layout == "virtual"
