"""Format handlers: choice by extension / type / format=, round-trips on every backend, errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import storecore
from storecore import formats
from storecore.errors import CorruptData, FormatError, MissingDependency, NotFound, PickleNotAllowed, StorecoreError
from storecore.formats import Handler, Registry, get_handler, load, save, scan

HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclasses.dataclass
class _Point:
    x: int
    y: int


class _Model:
    """Quacks like a pydantic v2 model."""

    def model_dump(self):
        return {"name": "m", "n": 1}


def test_dataclass_and_pydantic_are_stored_as_their_fields(memory_root):
    uri = save(_Point(1, 2), f"{memory_root}/pt")
    assert uri.endswith("pt.dataclass.json") and load(uri) == {"x": 1, "y": 2}
    uri = save(_Model(), f"{memory_root}/m")
    assert uri.endswith("m.pydantic.json") and load(f"{memory_root}/m") == {"name": "m", "n": 1}


# -- choosing a handler ------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, name",
    [("a.npy", "npy"), ("a.npz", "npz"), ("m.sparse.npz", "sparse"), ("t.parquet", "parquet"), ("t.CSV", "csv"),
     ("l.jsonl", "jsonl"), ("c.json", "json"), ("c.yml", "yaml"), ("r.md", "text"), ("p.tif", "image"),
     ("m.pth", "torch"), ("o.pkl", "pickle"), ("b.bin", "bytes")],
)
def test_handler_by_extension_longest_suffix_wins(key, name):
    assert get_handler(key).name == name


def test_handler_by_type_and_forced_format():
    assert get_handler(obj={"a": 1}).default_extension == ".json"
    assert get_handler(obj=[{"a": 1}]).default_extension == ".jsonl"
    assert get_handler(obj=[1, 2]).default_extension == ".json"
    assert get_handler(obj=pl.DataFrame({"a": [1]})).default_extension == ".parquet"
    assert get_handler(obj=np.zeros(2)).default_extension == ".npy"
    assert get_handler(obj="s").default_extension == ".txt"
    assert get_handler(obj=b"s").default_extension == ".bin"
    assert get_handler(obj={"x": np.zeros(2)}).default_extension == ".npz"
    assert get_handler(obj=object()).default_extension == ".pkl"
    assert get_handler(obj=_Point(1, 2)).default_extension == ".dataclass.json"
    assert get_handler(obj=_Model()).default_extension == ".pydantic.json"
    assert get_handler("p.dataclass.json").name == "dataclass"
    assert get_handler("data.csv", format="parquet").name == "parquet"
    with pytest.raises(FormatError, match="unknown format"):
        get_handler(format="nope")
    with pytest.raises(FormatError, match="unknown extension"):
        get_handler("file.weird")


def test_save_adds_extension_by_type_and_returns_uri(local_root):
    assert save({"a": 1}, f"{local_root}/cfg") == f"{local_root}/cfg.json"
    assert save(pl.DataFrame({"a": [1]}), f"{local_root}/df") == f"{local_root}/df.parquet"
    assert save([{"event": "start"}], f"{local_root}/logs") == f"{local_root}/logs.jsonl"
    assert save(np.arange(3), f"{local_root}/arr") == f"{local_root}/arr.npy"
    assert save("hi", f"{local_root}/note") == f"{local_root}/note.txt"
    assert save(b"\x00\x01", f"{local_root}/raw") == f"{local_root}/raw.bin"
    assert save(b"PK", f"{local_root}/report.xlsx") == f"{local_root}/report.xlsx"
    assert save({"a": 1}, f"{local_root}/forced", format="yaml") == f"{local_root}/forced.yaml"
    assert sorted(os.listdir(local_root)) == sorted(
        ["cfg.json", "df.parquet", "logs.jsonl", "arr.npy", "note.txt", "raw.bin", "report.xlsx", "forced.yaml"]
    )
    # keys without extension resolve to the saved file
    assert load(f"{local_root}/cfg") == {"a": 1}
    assert load(f"{local_root}/forced") == {"a": 1}


def test_forced_format_reads_content_under_another_extension(memory_root):
    buf = io.BytesIO()
    pl.DataFrame({"a": [1, 2]}).write_parquet(buf)
    storecore.backend_for(f"{memory_root}/data.csv")[0].write_bytes("data.csv", buf.getvalue())
    assert load(f"{memory_root}/data.csv", format="parquet")["a"].to_list() == [1, 2]


def test_user_handler_overrides_and_priority(memory_root):
    reg = Registry(parent=formats.REGISTRY)
    upper = Handler("upper", [".txt"], [str], 50,
                    read=lambda f, **kw: f.read().decode().lower(), write=lambda o, f, **kw: f.write(o.upper().encode()))
    reg.register(upper)
    uri = formats.save("Hello", f"{memory_root}/n", registry=reg)
    assert uri.endswith("n.txt")
    assert storecore.backend_for(uri)[0].read_bytes("n.txt") == b"HELLO"
    assert load(uri, registry=reg) == "hello"
    assert load(uri) == "HELLO"  # the process-wide registry is untouched
    with pytest.raises(StorecoreError):
        reg.register("not a handler")  # type: ignore[arg-type]


# -- round-trips on every backend ----------------------------------------------------------------
SAMPLES = {
    "a.npy": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b.npz": {"x": np.arange(3), "y": np.eye(2)},
    "t.parquet": pl.DataFrame({"a": [1, 2], "s": ["x", "y"]}),
    "t.csv": pl.DataFrame({"a": [1, 2], "s": ["x", "y"]}),
    "l.jsonl": [{"event": "start", "n": 1}, {"event": "stop", "n": 2}],
    "c.json": {"k": [1, 2.5, None, "ü"]},
    "c.yaml": {"k": [1, 2], "n": {"m": "v"}},
    "r.md": "# title\nüñí",
    "p.png": (np.arange(48, dtype=np.uint8).reshape(4, 4, 3)),
    "p.tif": (np.arange(20, dtype=np.uint16).reshape(4, 5)),
    "b.bin": b"\x00\xff" * 10,
}


def _equal(a, b):
    if isinstance(a, pl.DataFrame):
        return a.equals(b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b) and a.dtype == b.dtype
    if isinstance(a, dict) and a and isinstance(next(iter(a.values())), np.ndarray):
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_roundtrip_every_handler_every_backend(any_root, key):
    obj = SAMPLES[key]
    uri = save(obj, f"{any_root}/dir/{key}")
    assert _equal(obj, load(uri))


@pytest.mark.s3
def test_roundtrip_through_cache_on_s3(s3_root, tmp_path):
    RemoteCache = pytest.importorskip("storecore.cache").RemoteCache
    cache = RemoteCache(directory=str(tmp_path / "c"))
    uri = save(np.arange(5), f"{s3_root}/x.npy")
    assert np.array_equal(load(uri, cache=cache), np.arange(5))
    assert np.array_equal(load(uri, cache=cache), np.arange(5))
    assert len(cache.entries()) == 1


# -- property tests -----------------------------------------------------------------------------
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.int8, np.int32, np.uint16, np.float32, np.float64, np.complex64, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
)


@HYP
@given(arr=ARRAYS)
def test_property_npy_roundtrip(memory_root, arr):
    out = load(save(arr, f"{memory_root}/p.npy"))
    assert out.dtype == arr.dtype and out.shape == arr.shape
    assert np.array_equal(out, arr, equal_nan=arr.dtype.kind in "fc")


@HYP
@given(a=ARRAYS, b=ARRAYS)
def test_property_npz_roundtrip(memory_root, a, b):
    out = load(save({"a": a, "b": b}, f"{memory_root}/p.npz"))
    for k, v in {"a": a, "b": b}.items():
        assert out[k].dtype == v.dtype and np.array_equal(out[k], v, equal_nan=v.dtype.kind in "fc")


@HYP
@given(
    arr=hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16]), shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8))
)
def test_property_lossless_image_roundtrip(memory_root, arr):
    for ext in (".png", ".tif"):
        assert np.array_equal(load(save(arr, f"{memory_root}/img{ext}")), arr)


ROWS = st.lists(
    st.tuples(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False, width=64),
              st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8)),
    min_size=1, max_size=20,
)


@HYP
@given(rows=ROWS)
def test_property_table_roundtrip_parquet_csv_jsonl(memory_root, rows):
    df = pl.DataFrame(rows, schema={"i": pl.Int64, "f": pl.Float64, "s": pl.String}, orient="row")
    assert load(save(df, f"{memory_root}/t.parquet")).equals(df)
    back = load(save(df, f"{memory_root}/t.csv"), schema=df.schema)
    assert back["i"].to_list() == df["i"].to_list() and back["f"].to_list() == df["f"].to_list()
    assert load(save(df.to_dicts(), f"{memory_root}/t.jsonl")) == df.to_dicts()


# -- lazy scans / datasets --------------------------------------------------------------------------
def _write_dataset(root: str) -> None:
    save(pl.DataFrame({"region": ["a", "b"], "sales": [1, 2]}), f"{root}/sales/2024/jan.parquet")
    save(pl.DataFrame({"region": ["a"], "sales": [5]}), f"{root}/sales/2024/feb.parquet")


def test_scan_dataset_directory_every_backend(any_root):
    _write_dataset(any_root)
    lf = load(f"{any_root}/sales/2024")
    assert isinstance(lf, pl.LazyFrame)
    out = lf.group_by("region").agg(pl.col("sales").sum()).sort("region").collect()
    assert out["sales"].to_list() == [6, 2]
    single = scan(f"{any_root}/sales/2024/feb.parquet")
    assert isinstance(single, pl.LazyFrame) and single.collect()["sales"].to_list() == [5]


def test_scan_csv_dataset_and_refusals(local_root):
    save(pl.DataFrame({"a": [1]}), f"{local_root}/c/x.csv")
    save(pl.DataFrame({"a": [2]}), f"{local_root}/c/y.csv")
    assert sorted(scan(f"{local_root}/c").collect()["a"].to_list()) == [1, 2]
    save({"a": 1}, f"{local_root}/j/x.json")
    with pytest.raises(StorecoreError, match="not a parquet/CSV dataset"):
        load(f"{local_root}/j")
    with pytest.raises(NotFound):
        scan(f"{local_root}/j")
    with pytest.raises(FormatError, match="lazily"):
        scan(f"{local_root}/j/x.json")


@pytest.mark.parametrize(("text", "separator", "decimal_comma"), [
    (b"a,b,c\n1,2,3\n4,5,6\n", ",", False),
    (b"\xef\xbb\xbfname;value;note\nalpha;1,5;x\nbeta;2,25;y\n", ";", True),  # Excel in European locales
    (b"name;value\nalpha;1.5\nbeta;2\n", ";", False),
    (b"a\tb\n1\t2\n", "\t", False),
    (b"a|b|c\n1|2|3\n", "|", False),
    (b'a;b\n"x, y, z";1\n"p, q";2\n', ";", False),  # separators inside quotes do not count
    (b"only\n1\n2\n", ",", False),
    (b"", ",", False),
])
def test_csv_dialect_is_found_from_the_head(text, separator, decimal_comma):
    from storecore.formats.tables import csv_dialect

    options = csv_dialect(text)
    assert options["separator"] == separator
    assert options.get("decimal_comma", False) is decimal_comma


@pytest.mark.parametrize("root", ["local_root", "memory_root"])
def test_semicolon_csv_with_decimal_commas_loads_and_scans_as_polars_reads_it(request, root, tmp_path):
    """A CSV as a spreadsheet in a European locale exports it (BOM, ';', decimal commas): load and scan give the
    table polars reads when told its dialect."""
    base = request.getfixturevalue(root)
    text = "\ufeffname;value;note\nalpha;1,5;ü\nbeta;2,25;x\n".encode()
    expected = pl.read_csv(io.BytesIO(text), separator=";", decimal_comma=True)
    backend, loc = storecore.backend_for(f"{base}/eu.csv")
    backend.write_bytes(loc.path, text)
    for got in (load(f"{base}/eu.csv"), scan(f"{base}/eu.csv").collect()):
        assert got.columns == ["name", "value", "note"]
        assert got["value"].to_list() == expected["value"].to_list() == [1.5, 2.25]
    assert load(f"{base}/eu.csv", separator=";", decimal_comma=False)["value"].to_list() == ["1,5", "2,25"]  # as told


# -- errors -------------------------------------------------------------------------------------------
def test_pickle_refused_without_opt_in(any_root):
    uri = save({1, 2, 3}, f"{any_root}/obj")
    assert uri.endswith(".pkl")
    with pytest.raises(PickleNotAllowed, match="allow_pickle=True"):
        load(uri)
    assert load(uri, allow_pickle=True) == {1, 2, 3}
    arr = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(FormatError, match="allow_pickle"):
        save(arr, f"{any_root}/objs.npy")
    save(arr, f"{any_root}/objs.npy", allow_pickle=True)
    with pytest.raises(PickleNotAllowed):
        load(f"{any_root}/objs.npy")


def test_corrupt_files_raise_corrupt_data_naming_the_file(memory_root):
    backend, _ = storecore.backend_for(memory_root)
    for key in ("bad.npy", "bad.parquet", "bad.png", "bad.npz"):
        backend.write_bytes(key, b"garbage")
        with pytest.raises((CorruptData, FormatError), match=key):
            load(f"{memory_root}/{key}")
    backend.write_bytes("bad.json", b"{not json")
    with pytest.raises(FormatError, match="bad.json"):
        load(f"{memory_root}/bad.json")


def test_failed_write_keeps_previous_content(any_root):
    uri = save({"v": 1}, f"{any_root}/keep.json")
    with pytest.raises(FormatError, match="keep.json"):
        save({"v": object()}, uri)
    assert load(uri) == {"v": 1}
    with pytest.raises(FormatError):
        save(np.zeros((2, 2, 2, 2)), f"{any_root}/img.png")
    assert not storecore.backend_for(any_root)[0].exists("img.png")


def test_missing_path_and_unknown_extension(memory_root):
    with pytest.raises(NotFound):
        load(f"{memory_root}/nothing")
    with pytest.raises(FileNotFoundError):
        load(f"{memory_root}/nothing.json")
    storecore.backend_for(memory_root)[0].write_bytes("x.weird", b"1")
    with pytest.raises(FormatError, match="unknown extension"):
        load(f"{memory_root}/x.weird")


@pytest.mark.skipif(importlib.util.find_spec("scipy") is not None, reason="scipy installed")
def test_missing_scipy_names_package(memory_root):
    storecore.backend_for(memory_root)[0].write_bytes("m.sparse.npz", b"x")
    with pytest.raises(MissingDependency, match="pip install scipy"):
        load(f"{memory_root}/m.sparse.npz")


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch installed")
def test_missing_torch_names_package(memory_root):
    storecore.backend_for(memory_root)[0].write_bytes("m.pt", b"x")
    with pytest.raises(ImportError, match="pip install torch"):
        load(f"{memory_root}/m.pt")
    with pytest.raises(MissingDependency):
        save(np.zeros(2), f"{memory_root}/w.pt")


JSONABLE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@HYP
@given(doc=st.dictionaries(st.text(max_size=6), JSONABLE, max_size=5), text=st.text(max_size=50), raw=st.binary(max_size=64))
def test_property_json_yaml_text_bytes_roundtrip(memory_root, doc, text, raw):
    assert load(save(doc, f"{memory_root}/d.json")) == doc
    assert load(save(doc, f"{memory_root}/d.yaml")) == doc
    records = [doc, {"n": 1}]
    assert load(save(records, f"{memory_root}/r.jsonl")) == records
    assert load(save(text, f"{memory_root}/t.txt")) == text
    assert load(save(raw, f"{memory_root}/b.bin")) == raw


def test_register_autostore_style_handler_process_wide(memory_root):
    from storecore.autostore import DataHandler

    class Upper(DataHandler):
        def can_handle_extension(self, extension):
            return extension == ".up"

        def can_handle_data(self, data):
            return False

        def read_from_file(self, file_path, file_extension):
            return file_path.read_text().upper() + file_extension

        def write_to_file(self, data, file_path, file_extension):
            file_path.write_text(data)

        extensions = [".up"]
        priority = 1

    handler = storecore.register_handler(Upper())
    try:
        save("shout", f"{memory_root}/x.up")
        assert load(f"{memory_root}/x.up") == "SHOUT.up"
    finally:
        formats.REGISTRY.unregister(handler)
    with pytest.raises(FormatError):
        load(f"{memory_root}/x.up")


def test_key_resolution_prefers_file_over_folder(any_root):
    save({"f": 1}, f"{any_root}/weather.json")
    save(pl.DataFrame({"t": [1]}), f"{any_root}/weather/2024.parquet")
    assert load(f"{any_root}/weather") == {"f": 1}
    assert load(f"{any_root}/weather/").collect()["t"].to_list() == [1]  # a trailing slash names the folder
    assert scan(f"{any_root}/weather").collect()["t"].to_list() == [1]
