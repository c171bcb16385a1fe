"""Files as real tools write them (Pillow/tifffile images, polars/pyarrow tables, spreadsheets' CSV), read with
the values the reference library gives, or refused with one line naming the file and the cause."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import struct

import numpy as np
import polars as pl
import pytest
from PIL import Image

from storecore import backend_for
from storecore.errors import CorruptData, FormatError
from storecore.formats import load, scan
from storecore.formats.tables import as_utf8, is_utf8


def put(root: str, name: str, data: bytes) -> str:
    """Write ``data`` as object ``name`` of the memory store ``root`` and return its URI."""
    uri = f"{root}/{name}"
    backend, loc = backend_for(uri)
    backend.write_bytes(loc.path, data)
    return uri


def test_a_signed_8bit_tiff_reads_as_int8_as_tifffile_gives_it(memory_root):
    values = (np.arange(20) - 10).astype(np.int8).reshape(4, 5)
    buf = io.BytesIO()
    Image.fromarray(values.view(np.uint8)).save(buf, format="TIFF", tiffinfo={339: 2})  # SampleFormat: signed
    got = load(put(memory_root, "signed.tif", buf.getvalue()))
    assert got.dtype == np.int8 and np.array_equal(got, values)  # Pillow alone gives uint8: -10 as 246
    if importlib.util.find_spec("tifffile"):
        import tifffile

        assert np.array_equal(tifffile.imread(io.BytesIO(buf.getvalue())), got)


def test_animation_frames_in_different_modes_stack_as_rgba(memory_root):
    frames = [Image.fromarray(np.full((8, 6), 40 * i, np.uint8)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])  # frame 0 'P', then 'RGB'
    got = load(put(memory_root, "anim.gif", buf.getvalue()))
    assert got.shape == (3, 8, 6, 4)
    assert [int(got[i, 0, 0, 0]) for i in range(3)] == [0, 40, 80] and (got[..., 3] == 255).all()


def test_tiff_pages_of_another_size_after_the_first_series_are_left_out(memory_root):
    pages = [Image.fromarray(np.full((10, 10), i, np.uint8)) for i in range(3)] + [Image.fromarray(np.ones((4, 7), np.uint8))]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    got = load(put(memory_root, "mixed.tif", buf.getvalue()))
    assert got.shape == (3, 10, 10) and [int(got[i, 0, 0]) for i in range(3)] == [0, 1, 2]


LATIN1 = "name,value\nälpha,1\nGrüße,2\n".encode("latin-1")


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_latin1_csv_reads_as_its_letters_eagerly_and_lazily(request, tmp_path, where):
    if where == "local":
        (tmp_path / "l.csv").write_bytes(LATIN1)
        uri = str(tmp_path / "l.csv")
    else:
        uri = put(request.getfixturevalue("memory_root"), "l.csv", LATIN1)
    want = pl.DataFrame({"name": ["älpha", "Grüße"], "value": [1, 2]})
    assert load(uri).equals(want)  # polars alone: "invalid utf-8 sequence"
    assert scan(uri).collect().equals(want)


def test_utf8_text_is_left_as_it_is_even_cut_inside_a_character():
    assert is_utf8("Grüße".encode()[:3]) and not is_utf8(LATIN1)
    assert as_utf8("ü".encode()) == "ü".encode()
    assert as_utf8("price,€ 5 “net”".encode("cp1252")) == "price,€ 5 “net”".encode()  # Excel's CSV on Windows
    assert as_utf8(b"a\x81\xe9") == "a\x81é".encode()  # a byte Windows-1252 leaves undefined: Latin-1


def test_a_jsonl_file_with_a_byte_order_mark_reads(memory_root):
    assert load(put(memory_root, "b.jsonl", '\ufeff{"a": 1}\n{"a": 2}\n'.encode())) == [{"a": 1}, {"a": 2}]


def test_tsv_and_arrow_ipc_files_read_as_polars_reads_them(memory_root, tmp_path):
    df = pl.DataFrame({"a": [1, None], "l": [[1, 2], []], "s": pl.Series(["x", "y"], dtype=pl.Categorical),
                       "t": pl.Series([dt.datetime(2024, 1, 1), None]).dt.replace_time_zone("Europe/Berlin")})
    for name, write in (("t.arrow", df.write_ipc), ("t.feather", lambda f: df.write_ipc(f, compression="zstd")),
                        ("t.arrows", df.write_ipc_stream)):
        buf = io.BytesIO()
        write(buf)
        assert load(put(memory_root, name, buf.getvalue())).equals(df), name
    tsv = put(memory_root, "t.tsv", b"a\tb\n1\t2,5\n3\tx y\n")
    assert load(tsv).equals(pl.DataFrame({"a": [1, 3], "b": ["2,5", "x y"]}))
    (tmp_path / "t.tsv").write_bytes(b"a\tb\n1\t2,5\n")
    assert scan(str(tmp_path / "t.tsv")).collect().columns == ["a", "b"]


def test_unreadable_tables_say_why_in_one_line(memory_root):
    with pytest.raises(FormatError, match=r"v1\.feather: a Feather v1 file .* polars cannot read") as e:
        load(put(memory_root, "v1.feather", b"FEA1" + bytes(64)))
    with pytest.raises(CorruptData, match="ragged.csv: cannot decode as csv: .*more fields") as e2:
        load(put(memory_root, "ragged.csv", b"a,b\n1,2\n3,4,5\n"))
    assert "\n" not in str(e.value) and "\n" not in str(e2.value)  # polars' hint lines are left out


def float64_tiff(values: np.ndarray) -> bytes:
    """A one-strip little-endian TIFF of float64 samples (SampleFormat 3, 64 bits), as tifffile writes one."""
    h, w = values.shape
    pixels = values.astype("<f8").tobytes()
    entries = [(256, 4, w), (257, 4, h), (258, 3, 64), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1),
               (278, 4, h), (279, 4, len(pixels)), (339, 3, 3)]
    ifd_size = 2 + 12 * len(entries) + 4
    data_at = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_at if tag == 273 else value
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + pixels


def test_a_float64_tiff_pillow_cannot_decode_is_read_by_tifffile_or_named(memory_root):
    values = np.linspace(-1, 1, 12).reshape(3, 4)
    uri = put(memory_root, "f64.tif", float64_tiff(values))
    if importlib.util.find_spec("tifffile"):
        got = load(uri)
        assert got.dtype == np.float64 and np.array_equal(got, values)
    else:
        with pytest.raises(FormatError, match=r"f64\.tif: a TIFF Pillow cannot decode .*pip install tifffile"):
            load(uri)  # was "not an image Pillow can read"


def test_json_with_a_byte_order_mark_reads_as_pythons_json_reads_its_bytes(memory_root):
    assert load(put(memory_root, "b.json", '\ufeff{"a": [1, 2]}'.encode())) == {"a": [1, 2]}  # was "Unexpected BOM"
    assert load(put(memory_root, "u16.json", '{"a": "ü"}'.encode("utf-16"))) == {"a": "ü"}


def test_a_latin1_csv_larger_than_the_transcoding_bound_is_scanned_lossily_not_read_whole(tmp_path, monkeypatch):
    from storecore.formats import tables

    (tmp_path / "big.csv").write_bytes(LATIN1)
    monkeypatch.setattr(tables, "CSV_TRANSCODE_BYTES", len(LATIN1) - 1)
    names = scan(str(tmp_path / "big.csv")).collect()["name"].to_list()
    assert names == ["\ufffdlpha", "Gr\ufffd\ufffde"]  # each byte that is not UTF-8 shown as U+FFFD: no error
