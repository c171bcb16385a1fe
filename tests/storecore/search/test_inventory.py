"""Listings from an S3 Inventory (storecore.search.inventory): find, compare and ls without listing the bucket.

The inventories are written in the layout AWS uses (manifest.json with fileSchema and files, data files,
hive symlink.txt) into the test S3 server; the source buckets they describe need not exist.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import uuid

import polars as pl
import pytest

import storecore
from storecore import cli
from storecore.errors import InvalidArgument, MissingDependency, NotFound
from storecore.search import FindStats
from storecore.search.inventory import open_inventory

pytestmark = pytest.mark.s3

N = 1_000_000
CONFIG = "daily"
PARQUET_SCHEMA = (
    "message s3.inventory { required binary bucket (STRING); required binary key (STRING); "
    "optional int64 size; optional int64 last_modified_date (TIMESTAMP(MILLIS,true)); "
    "optional binary e_tag (STRING); optional binary storage_class (STRING);}"
)
T0 = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)


def _put(scheme: str, bucket: str, key: str, data: bytes) -> None:
    backend, loc = storecore.backend_for(f"{scheme}://{bucket}/{key}")
    backend.write_bytes(loc.path, data)


def write_inventory(
    scheme: str,
    inv_bucket: str,
    prefix: str,
    source: str,
    frames: list[pl.DataFrame],
    date: str,
    fmt: str = "Parquet",
    schema: str = PARQUET_SCHEMA,
    created: _dt.datetime | None = None,
) -> str:
    """Write one snapshot as AWS does; returns the config folder URI."""
    config = f"{prefix}/{source}/{CONFIG}"
    files = []
    for i, df in enumerate(frames):
        if fmt == "Parquet":
            buf = io.BytesIO()
            df.write_parquet(buf, statistics=True, row_group_size=100_000)
            data, ext = buf.getvalue(), "parquet"
        else:
            data, ext = gzip.compress(df.write_csv(include_header=False, quote_style="always").encode()), "csv.gz"
        key = f"{config}/data/{date}-{i}-{uuid.uuid4().hex[:8]}.{ext}"
        _put(scheme, inv_bucket, key, data)
        files.append({"key": key, "size": len(data), "MD5checksum": "0" * 32})
    when = created or _dt.datetime.strptime(date, "%Y-%m-%dT%H-%MZ").replace(tzinfo=_dt.UTC)
    manifest = {
        "sourceBucket": source,
        "destinationBucket": f"arn:aws:s3:::{inv_bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(when.timestamp() * 1000)),
        "fileFormat": fmt,
        "fileSchema": schema,
        "files": files,
    }
    _put(scheme, inv_bucket, f"{config}/{date}/manifest.json", json.dumps(manifest).encode())
    if fmt == "Parquet":
        hive = "\n".join(f"s3://{inv_bucket}/{f['key']}" for f in files) + "\n"
        _put(scheme, inv_bucket, f"{config}/hive/dt={when:%Y-%m-%d-%H-%M}/symlink.txt", hive.encode())
    return f"{scheme}://{inv_bucket}/{config}/"


def million_rows(source: str, n: int = N) -> pl.DataFrame:
    """``n`` objects: data/dNN/fI.bin, every 1000th an .h5 of 10 MB; sizes i % 5000; one per minute from T0."""
    i = pl.int_range(n)
    return pl.select(
        bucket=pl.lit(source),
        key=pl.format(
            "data/d{}/f{}.{}", i % 100, i, pl.when(i % 1000 == 0).then(pl.lit("h5")).otherwise(pl.lit("bin"))
        ),
        size=pl.when(i % 1000 == 0).then(10_000_000).otherwise(i % 5000).cast(pl.Int64),
        last_modified_date=(pl.lit(T0) + pl.duration(minutes=i)).dt.cast_time_unit("ms"),
        e_tag=i.cast(pl.String).str.zfill(32),
        storage_class=pl.when(i % 10 == 0).then(pl.lit("GLACIER")).otherwise(pl.lit("STANDARD")),
    )


@pytest.fixture(scope="module")
def big(s3_server, s3_scheme):
    """A 10⁶-row Parquet inventory (two files) of a bucket that does not exist, with an older snapshot."""
    inv_bucket = s3_server.new_bucket("inv")
    source = f"nosuch-{uuid.uuid4().hex[:10]}"
    df = million_rows(source)
    write_inventory(s3_scheme, inv_bucket, "inventories", source, [df.head(1000)], "2026-11-30T01-00Z")
    config = write_inventory(
        s3_scheme, inv_bucket, "inventories", source, [df.slice(0, N // 2), df.slice(N // 2)], "2026-12-02T01-00Z"
    )
    # AWS writes the dated folder before its manifest: an unfinished newer snapshot is passed over.
    _put(s3_scheme, inv_bucket, f"inventories/{source}/{CONFIG}/2026-12-03T01-00Z/partial.tmp", b"x")
    return {
        "scheme": s3_scheme,
        "inv": inv_bucket,
        "source": source,
        "config": config,
        "prefix": f"{s3_scheme}://{inv_bucket}/inventories/",
    }


def test_newest_manifest_found_from_any_level(big):
    for uri in (big["prefix"], big["config"], big["config"] + "2026-12-02T01-00Z/manifest.json"):
        inv = open_inventory(uri, big["source"])
        assert inv.file_format == "parquet" and len(inv.files) == 2 and inv.source_bucket == big["source"]
        assert inv.as_of == "2026-12-02 01:00 UTC" and inv.date == _dt.datetime(2026, 12, 2, 1, tzinfo=_dt.UTC)
    older = open_inventory(big["config"] + "2026-11-30T01-00Z/")
    assert older.date.day == 30 and older.totals()["files"] == 1000
    hive = open_inventory(big["config"] + "hive/dt=2026-12-02-01-00/")
    assert hive.totals()["files"] == N and hive.source_bucket == big["source"]
    with pytest.raises(InvalidArgument, match="lists bucket"):
        open_inventory(big["config"], "another-bucket")
    with pytest.raises(NotFound):
        open_inventory(f"{big['scheme']}://{big['inv']}/nothing-here/")


def test_find_by_name_sends_no_request_to_the_source_bucket(big):
    """The source bucket does not exist: any request to it would raise NotFound."""
    stats = FindStats()
    hits = list(
        storecore.find(f"{big['scheme']}://{big['source']}/data/", name="*.h5", inventory=big["prefix"], stats=stats)
    )
    assert len(hits) == N // 1000
    assert {h.kind for h in hits} == {"file"} and all(h.size == 10_000_000 for h in hits)
    first = min(hits, key=lambda h: int(h.path.rsplit("f", 1)[1].split(".")[0]))
    assert first.uri == f"{big['scheme']}://{big['source']}/data/d0/f0.h5" and first.path == "d0/f0.h5"
    assert first.mtime == T0.timestamp()
    assert stats.inventory_date.date() == _dt.date(2026, 12, 2) and stats.matches == len(hits)
    with pytest.raises(NotFound):  # what a find without the inventory does on that bucket
        list(storecore.find(f"{big['scheme']}://{big['source']}/data/", name="*.h5"))


def test_find_by_size_date_etag_storage_class_path_and_depth(big):
    root = f"{big['scheme']}://{big['source']}/"
    inv = big["config"]
    big_files = list(storecore.find(root, min_size="5M", inventory=inv))
    assert len(big_files) == N // 1000
    small = list(storecore.find(root, path="data/d7/*", max_size=10, inventory=inv))
    # keys with i % 100 == 7 and i % 5000 <= 10: i = 5000k + 7 for k < 200
    assert len(small) == 200 and all(h.path.startswith("data/d7/") and h.size <= 10 for h in small)
    late = list(storecore.find(root, modified_after=T0 + _dt.timedelta(minutes=N - 11), inventory=inv))
    assert len(late) == 10
    tagged = list(storecore.find(root, etag=["42".zfill(32), '"' + "43".zfill(32) + '"'], inventory=inv))
    assert sorted(h.name for h in tagged) == ["f42.bin", "f43.bin"]
    glacier = storecore.find(root, storage_class="glacier", name="f1?0.*", inventory=inv)
    assert sorted(h.name for h in glacier) == [f"f1{d}0.bin" for d in range(10)]
    assert list(storecore.find(root, max_depth=1, inventory=inv)) == []  # every key is two levels down
    assert len(list(storecore.find(root + "data/d3", max_depth=1, name="f3.*", inventory=inv))) == 1
    with pytest.raises(InvalidArgument, match="storage_class"):
        storecore.find(root, storage_class="GLACIER")
    with pytest.raises(InvalidArgument):
        list(storecore.find(root, shape=(None, 3), inventory=inv))


def test_find_stream_can_stop_early(big):
    gen = storecore.find(f"{big['scheme']}://{big['source']}/", inventory=big["config"])
    first = [next(gen) for _ in range(5)]
    gen.close()
    assert len(first) == 5
    calls = iter([False, True])
    stats = FindStats()
    out = list(
        storecore.find(
            f"{big['scheme']}://{big['source']}/",
            inventory=big["config"],
            stats=stats,
            cancel=lambda: next(calls, True),
        )
    )
    assert stats.cancelled and len(out) < N


def test_totals_and_children_du(big):
    inv = open_inventory(big["config"])
    t = inv.totals("data/d0")
    assert t["files"] == N // 100 and t["as_of"] == "2026-12-02 01:00 UTC"
    kids = inv.children("data")
    assert kids.height == 100 and kids["is_dir"].all() and kids["files"].sum() == N


def test_csv_gz_inventory_with_versions_and_encoded_keys(s3_server, s3_scheme):
    inv_bucket = s3_server.new_bucket("inv")
    source = "src-csv"
    schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"
    rows = pl.DataFrame(
        {
            "Bucket": [source] * 5,
            "Key": ["a/hello+world.txt", "a/caf%C3%A9.txt", "a/old.txt", "a/old.txt", "a/gone.txt"],
            "VersionId": ["v1", "v1", "v2", "v1", "v1"],
            "IsLatest": ["true", "true", "true", "false", "true"],
            "IsDeleteMarker": ["false", "false", "false", "false", "true"],
            "Size": ["11", "5", "3", "300", ""],
            "LastModifiedDate": ["2026-11-01T10:00:00.000Z"] * 5,
            "ETag": ["d41d8cd98f00b204e9800998ecf8427e"] * 5,
            "StorageClass": ["STANDARD", "STANDARD_IA", "STANDARD", "STANDARD", ""],
        }
    )
    config = write_inventory(s3_scheme, inv_bucket, "p", source, [rows], "2026-12-02T00-00Z", fmt="CSV", schema=schema)
    inv = open_inventory(config)
    assert inv.file_format == "csv" and inv.as_of == "2026-12-02"
    got = {h.path: h.size for h in storecore.find(f"{s3_scheme}://{source}/a", inventory=config)}
    assert got == {"hello world.txt": 11, "café.txt": 5, "old.txt": 3}
    ia = list(storecore.find(f"{s3_scheme}://{source}/", storage_class="STANDARD_IA", inventory=config))
    assert [h.name for h in ia] == ["café.txt"]
    assert ia[0].mtime == _dt.datetime(2026, 11, 1, 10, tzinfo=_dt.UTC).timestamp()


def test_orc_inventory_says_not_supported(s3_server, s3_scheme):
    inv_bucket = s3_server.new_bucket("inv")
    config = f"p/src-orc/{CONFIG}"
    manifest = {
        "sourceBucket": "src-orc",
        "fileFormat": "ORC",
        "fileSchema": "struct<bucket:string,key:string>",
        "files": [{"key": f"{config}/data/x.orc", "size": 1, "MD5checksum": "0" * 32}],
    }
    _put(s3_scheme, inv_bucket, f"{config}/2026-12-02T00-00Z/manifest.json", json.dumps(manifest).encode())
    _put(s3_scheme, inv_bucket, f"{config}/data/x.orc", b"ORC")
    try:
        import pyarrow.orc  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependency, match="ORC inventories are not supported"):
            list(storecore.find(f"{s3_scheme}://src-orc/", inventory=f"{s3_scheme}://{inv_bucket}/p/"))
    else:  # with a reader, a file that is not ORC is an error of another kind
        with pytest.raises(Exception):  # noqa: B017
            list(storecore.find(f"{s3_scheme}://src-orc/", inventory=f"{s3_scheme}://{inv_bucket}/p/"))


@pytest.fixture
def mirrored(s3_server, s3_scheme):
    """A real bucket B and an inventory of bucket A (which does not exist) that differs from it."""
    b = s3_server.new_bucket("b")
    files = {"x/same.txt": b"same", "x/size.txt": b"longer", "x/content.txt": b"abcd", "x/only_b.txt": b"b"}
    for k, v in files.items():
        _put(s3_scheme, b, k, v)
    import hashlib

    source = f"nosuch-{uuid.uuid4().hex[:10]}"
    rows = pl.DataFrame(
        {
            "bucket": [source] * 4,
            "key": ["x/same.txt", "x/size.txt", "x/content.txt", "x/only_a.txt"],
            "size": [4, 2, 4, 9],
            "last_modified_date": [T0] * 4,
            "e_tag": [hashlib.md5(v).hexdigest() for v in (b"same", b"sh", b"wxyz", b"123456789")],
            "storage_class": ["STANDARD"] * 4,
        }
    ).with_columns(pl.col("last_modified_date").dt.cast_time_unit("ms"))
    inv_bucket = s3_server.new_bucket("inv")
    config = write_inventory(s3_scheme, inv_bucket, "inv", source, [rows], "2026-12-02T00-00Z")
    return {"a": f"{s3_scheme}://{source}/x", "b": f"{s3_scheme}://{b}/x", "inv": config, "inv_bucket": inv_bucket}


def test_compare_side_a_from_inventory(mirrored):
    got = {
        e.path: (e.status, e.reason)
        for e in storecore.compare(mirrored["a"], mirrored["b"], inventory_a=mirrored["inv"])
    }
    assert got == {
        "same.txt": ("same", None),
        "size.txt": ("differ", "size"),
        "content.txt": ("same", None),
        "only_a.txt": ("only_a", None),
        "only_b.txt": ("only_b", None),
    }
    deep = {
        e.path: e.status for e in storecore.compare(mirrored["a"], mirrored["b"], True, inventory_a=mirrored["inv"])
    }
    assert deep["content.txt"] == "differ" and deep["same.txt"] == "same"  # MD5 ETags from both listings
    order = [e.status for e in storecore.compare(mirrored["a"], mirrored["b"], inventory_a=mirrored["inv"])]
    assert order[-1] == "only_b"


def test_compare_both_sides_from_inventories(mirrored):
    res = list(
        storecore.compare(
            mirrored["a"],
            mirrored["a"],
            True,
            inventory_a=mirrored["inv"],
            inventory_b=mirrored["inv"],
            include_same=False,
        )
    )
    assert res == []


def test_cli_find_ls_compare_with_inventory(big, mirrored, capsys):
    src = f"{big['scheme']}://{big['source']}/data/d5"
    code = cli.main(["find", src, "--name", "f1005.*", "--inventory", big["prefix"]])
    out, err = capsys.readouterr()
    assert code == 0 and out.split() == [f"{src}/f1005.bin"] and "as of 2026-12-02" in err
    code = cli.main(
        ["find", src, "--storage-class", "GLACIER", "--max-size", "1000", "--json", "--inventory", big["config"]]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and all(json.loads(line)["size"] <= 1000 for line in out.splitlines())
    code = cli.main(["ls", f"{big['scheme']}://{big['source']}/", "--inventory", big["config"]])
    out, err = capsys.readouterr()
    assert code == 0 and out.split()[-1] == "data/" and f"{N} file(s)" in err and "as of 2026-12-02" in err
    code = cli.main(["ls", "-r", "--json", mirrored["a"], "--inventory", mirrored["inv"]])
    out, _ = capsys.readouterr()
    assert code == 0 and sorted(json.loads(line)["name"] for line in out.splitlines()) == [
        "content.txt",
        "only_a.txt",
        "same.txt",
        "size.txt",
    ]
    code = cli.main(["compare", mirrored["a"], mirrored["b"], "--inventory", mirrored["inv"], "--exit-code"])
    out, err = capsys.readouterr()
    assert code == 3 and "only_a  only_a.txt" in out and "only_b  only_b.txt" in out
    code = cli.main(["find", src, "--etag", "x"])
    assert code == 2
    capsys.readouterr()


def test_cluster_copy_plan_from_inventory(mirrored):
    from storecore.transfer.cluster import plan

    items = sorted(plan(mirrored["a"], inventory=mirrored["inv"]))  # the bucket does not exist: no listing
    assert [(rel, size) for rel, size, _ in items] == [
        ("content.txt", 4),
        ("only_a.txt", 9),
        ("same.txt", 4),
        ("size.txt", 2),
    ]
