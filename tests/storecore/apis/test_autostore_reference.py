# ruff: noqa: I001, F401, UP015 - the examples keep the document's own imports and style
"""Every example of the AutoStore document (autostore.txt), one test per section.

The code of each example is the document's, with ``from autostore ...`` changed
to ``from storecore ...``.  To run the S3 examples against the test server, the
fixture ``aws`` points the plain ``s3://`` scheme at it and writes an AWS
profile file holding the profile names the document uses; endpoints of
third-party services (MinIO, DigitalOcean) are replaced by the test server's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars
import polars as pl
import pytest

import storecore
from storecore.backends.registry import forget_scheme

PROFILES = ["default", "my-profile", "aws-prod", "production", "prod", "aws-production"]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """Run in a fresh folder (the examples use ./data, ./local-cache...) with a private cache dir."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return work


@pytest.fixture
def aws(s3_server, cwd, tmp_path, monkeypatch):
    """``s3://`` reaches the test server; the document's AWS profiles exist with the test keys."""
    from storecore import location

    creds = tmp_path / "aws-credentials"
    creds.write_text(
        "".join(
            f"[{p}]\naws_access_key_id = {s3_server.access_key}\naws_secret_access_key = {s3_server.secret_key}\n"
            for p in PROFILES
        )
    )
    config = tmp_path / "aws-config"
    config.write_text("".join(f"[{'default' if p == 'default' else 'profile ' + p}]\nregion = us-east-1\n" for p in PROFILES))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    saved = location._schemes["s3"]
    storecore.register_scheme("s3", "s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client = s3_server.client()

    def buckets(*names: str) -> None:
        """Create the document's buckets, empty (they are shared by the tests of this session)."""
        for name in names:
            try:
                client.create_bucket(Bucket=name)
            except client.exceptions.BucketAlreadyOwnedByYou:
                pass
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=name, Delete={"Objects": keys})

    yield buckets
    with location._lock:
        location._schemes["s3"] = saved
    forget_scheme("s3")


def s3_text(s3_server, bucket: str, key: str) -> bytes:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


# -- Basic Usage - Zero Configuration --------------------------------------------------------
def test_basic_usage_zero_configuration(cwd):
    from storecore import AutoStore

    df = pl.DataFrame({"a": [1, 2, 3]})

    # Local storage - no configuration needed
    store = AutoStore("./data")

    # Write data - automatically saves with appropriate extensions
    store["my_dataframe"] = df           # ./data/my_dataframe.parquet
    store["config"] = {"key": "value"}   # ./data/config.json
    store["logs"] = [{"event": "start"}] # ./data/logs.jsonl

    # Read data
    df = store["my_dataframe"]           # Returns a Polars DataFrame
    config = store["config"]             # Returns a dict
    logs = store["logs"]                 # Returns a list of dicts

    assert sorted(os.listdir("data")) == ["config.json", "logs.jsonl", "my_dataframe.parquet"]
    assert isinstance(df, pl.DataFrame) and df["a"].to_list() == [1, 2, 3]
    assert config == {"key": "value"} and logs == [{"event": "start"}]


@pytest.mark.s3
def test_basic_usage_zero_configuration_on_s3(s3_root, s3_server, s3_bucket):
    from storecore import AutoStore

    df = pl.DataFrame({"a": [1, 2, 3]})
    store = AutoStore(f"{s3_root}/data")
    store["my_dataframe"] = df
    store["config"] = {"key": "value"}
    store["logs"] = [{"event": "start"}]
    df = store["my_dataframe"]
    config = store["config"]
    logs = store["logs"]
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="data/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["data/config.json", "data/logs.jsonl", "data/my_dataframe.parquet"]
    assert isinstance(df, pl.DataFrame) and df["a"].to_list() == [1, 2, 3]
    assert config == {"key": "value"} and logs == [{"event": "start"}]
    assert sorted(store.keys()) == ["config", "logs", "my_dataframe"]


# -- Cloud Storage - Automatic Detection ------------------------------------------------------
@pytest.mark.s3
def test_cloud_storage_automatic_detection(aws, s3_server):
    aws("my-bucket")
    from storecore import AutoStore
    from storecore.s3 import S3Options

    # S3 - automatically detected from s3:// prefix
    store = AutoStore(
        "s3://my-bucket/data/",
        profile_name="my-profile",
        cache_enabled=True
    )

    # Or with explicit options
    options = S3Options(
        profile_name="my-profile",
        region_name="us-east-1",
        cache_enabled=True,
        cache_expiry_hours=12
    )
    store = AutoStore("s3://my-bucket/data/", options=options)

    # Write data to S3
    store["experiment/results"] = {"accuracy": 0.95, "epochs": 100}

    # Read data from S3
    results = store["experiment/results"]  # Uses cache on subsequent loads

    assert results == {"accuracy": 0.95, "epochs": 100}
    assert json.loads(s3_text(s3_server, "my-bucket", "data/experiment/results.json")) == results
    cache = next(iter(store._caches.values()))
    assert store["experiment/results"] == results
    assert cache.hits >= 1 and cache.expiry_hours == 12


# -- Cross-Backend Access ---------------------------------------------------------------------
@pytest.mark.s3
def test_cross_backend_access(aws, s3_server):
    aws("bucket")
    from storecore import AutoStore

    # Create a local store as primary backend
    store = AutoStore("./local-cache", cache_enabled=True)

    # Access different backends using full URIs
    store["local_file"] = {"type": "local"}                    # Primary backend
    store["s3://bucket/remote.json"] = {"type": "s3"}          # S3 backend

    # Read from any backend
    local_data = store["local_file"]                           # From local
    s3_data = store["s3://bucket/remote.json"]                 # From S3

    assert local_data == {"type": "local"} and s3_data == {"type": "s3"}
    assert store.list_active_backends() == ["primary: ./local-cache", "s3: s3://bucket/"]
    assert os.path.exists("local-cache/local_file.json")
    assert json.loads(s3_text(s3_server, "bucket", "remote.json")) == {"type": "s3"}


# -- Multiple S3-Compatible Services ------------------------------------------------------------
@pytest.mark.s3
def test_multiple_s3_compatible_services(aws, s3_server):
    aws("aws-bucket", "my-bucket", "my-space")
    endpoint = s3_server.endpoint  # stands in for https://minio.mycompany.com and DigitalOcean
    from storecore import AutoStore
    from storecore.s3 import S3Options

    # Register new schemes for different S3-compatible services
    AutoStore.register_scheme("minio", "storecore.s3")
    AutoStore.register_scheme("digitalocean", "storecore.s3")

    # Create service-specific options with different configurations
    aws_options = S3Options(
        scheme="s3",
        profile_name="aws-production",
        region_name="us-east-1",
        cache_enabled=True
    )

    minio_options = S3Options(
        scheme="minio",
        endpoint_url=endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1"
    )

    digitalocean_options = S3Options(
        scheme="digitalocean",
        endpoint_url=endpoint,
        region_name="nyc3",
        cache_enabled=True
    )

    # Create AutoStore with multiple backend options
    store = AutoStore(
        "./local-cache",
        options=[aws_options, minio_options, digitalocean_options]
    )

    # Each scheme automatically uses its appropriate configuration
    store["s3://aws-bucket/data.json"] = {"source": "aws"}
    store["minio://my-bucket/data.json"] = {"source": "minio"}
    store["digitalocean://my-space/data.json"] = {"source": "digitalocean"}

    # Cross-backend data access with automatic option selection
    aws_data = store["s3://aws-bucket/data.json"]
    minio_data = store["minio://my-bucket/data.json"]
    digitalocean_data = store["digitalocean://my-space/data.json"]

    assert (aws_data, minio_data, digitalocean_data) == ({"source": "aws"}, {"source": "minio"}, {"source": "digitalocean"})
    assert store._backend(storecore.parse("minio://my-bucket/x")).endpoint_url == endpoint
    assert store._backend(storecore.parse("digitalocean://my-space/x"))._options["region_name"] == "nyc3"
    active = store.list_active_backends()
    assert active[0] == "primary: ./local-cache" and "minio: minio://my-bucket/" in active


# -- Dataset Support ---------------------------------------------------------------------------
def _weather(save, prefix: str) -> None:
    for month, temps in {"january": [1.0, 2.0], "february": [3.0], "march": [4.0, 5.0, 6.0]}.items():
        save(f"{prefix}weather/2024/{month}.parquet", pl.DataFrame({"month": [month] * len(temps), "t": temps}))


@pytest.mark.s3
def test_dataset_support(aws):
    aws("my-bucket")
    from storecore import AutoStore

    _weather(lambda k, df: storecore.save(df, f"s3://my-bucket/datasets/{k}"), "")

    store = AutoStore("s3://my-bucket/datasets/")

    # Access parquet dataset (multiple files)
    weather_data = store["weather/2024/"]  # Loads entire dataset as LazyFrame

    # Access individual file
    single_file = store["weather/2024/january.parquet"]

    # List files in dataset
    files = list(store.list_files("weather/2024/*", recursive=True))

    assert isinstance(weather_data, pl.LazyFrame) and weather_data.collect().height == 6
    assert single_file["t"].to_list() == [1.0, 2.0]
    assert sorted(files) == ["weather/2024/february.parquet", "weather/2024/january.parquet", "weather/2024/march.parquet"]


def test_dataset_support_local(cwd):
    from storecore import AutoStore

    store = AutoStore("./datasets")
    _weather(store.__setitem__, "")
    weather_data = store["weather/2024/"]
    assert isinstance(weather_data, pl.LazyFrame) and weather_data.select(pl.col("t").sum()).collect().item() == 21.0
    assert len(list(store.list_files("weather/2024/*", recursive=True))) == 3


# -- AutoPath: Basic AutoPath Usage ------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_basic_usage(aws, s3_server):
    aws("my-bucket")
    os.makedirs("local-data")
    Path("local-data/config.json").write_text('{"old": 1}')
    storecore.backend_for("s3://my-bucket/x")[0].write_bytes("data/results.parquet", b"PAR1...")
    from storecore import AutoPath, AutoStore
    from storecore.s3 import S3Options

    # Create a store with multiple backends
    store = AutoStore(
        "./local-data",
        options=[
            S3Options(
                scheme="s3",
                profile_name="aws-prod",
                cache_enabled=True,
                cache_expiry_hours=6
            )
        ]
    )

    # Create AutoPath instances
    local_path = AutoPath("./local-data/config.json", store=store)
    s3_path = AutoPath("s3://my-bucket/data/results.parquet", store=store)

    # Path operations work the same for local and cloud storage
    config_exists = local_path.exists()          # True/False
    results_exists = s3_path.exists()            # True/False

    # Read files as text or bytes
    config_text = local_path.read_text()         # Read as string
    results_bytes = s3_path.read_bytes()         # Read as bytes

    # Write files
    local_path.write_text('{"key": "value"}')    # Write string
    s3_path.write_bytes(b"binary data")          # Write bytes

    assert config_exists and results_exists
    assert config_text == '{"old": 1}' and results_bytes == b"PAR1..."
    assert Path("local-data/config.json").read_text() == '{"key": "value"}'
    assert s3_text(s3_server, "my-bucket", "data/results.parquet") == b"binary data"
    assert s3_path.read_bytes() == b"binary data"  # the cache noticed the new ETag


# -- Path Manipulation and Navigation ---------------------------------------------------------------
@pytest.mark.s3
def test_autopath_path_manipulation_and_navigation(aws, capsys):
    from storecore import AutoPath, AutoStore

    store = AutoStore("./local-data")

    # Path joining works like pathlib.Path
    data_dir = AutoPath("s3://my-bucket/datasets", store=store)
    experiment_dir = data_dir / "experiment_1"
    results_file = experiment_dir / "results.parquet"

    print(results_file)  # s3://my-bucket/datasets/experiment_1/results.parquet

    # Path properties
    print(results_file.name)       # results.parquet
    print(results_file.stem)       # results
    print(results_file.suffix)     # .parquet
    print(results_file.parent)     # s3://my-bucket/datasets/experiment_1

    # Navigate parent directories
    parent = results_file.parent
    grandparent = parent.parent
    all_parents = results_file.parents  # List of all parent directories

    assert capsys.readouterr().out.split() == [
        "s3://my-bucket/datasets/experiment_1/results.parquet", "results.parquet", "results", ".parquet",
        "s3://my-bucket/datasets/experiment_1",
    ]
    assert str(grandparent) == "s3://my-bucket/datasets"
    assert [str(p) for p in all_parents] == [
        "s3://my-bucket/datasets/experiment_1", "s3://my-bucket/datasets", "s3://my-bucket",
    ]


# -- File and Directory Operations -------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_file_and_directory_operations(aws, capsys):
    aws("my-bucket")
    from storecore import AutoPath, AutoStore

    for key, data in {"experiment_1/results.parquet": b"r" * 10, "experiment_1/a.csv": b"x,y\n",
                      "experiment_1/deep/more.parquet": b"m", "top.parquet": b"tt"}.items():
        storecore.backend_for("s3://my-bucket/")[0].write_bytes("datasets/" + key, data)
    store = AutoStore("./local-data")
    data_dir = AutoPath("s3://my-bucket/datasets", store=store)
    experiment_dir = data_dir / "experiment_1"
    results_file = experiment_dir / "results.parquet"

    # File operations
    if results_file.exists():
        print("File exists")

    if results_file.is_file():
        print("It's a file")

    if data_dir.is_dir():
        print("It's a directory")

    # Directory listing
    for item in data_dir.iterdir():
        print(f"Found: {item}")
        if item.is_file():
            print(f"  File size: {item.stat().size}")

    # Glob patterns
    for parquet_file in data_dir.glob("**/*.parquet"):
        print(f"Parquet file: {parquet_file}")

    for csv_file in experiment_dir.glob("*.csv"):
        print(f"CSV file: {csv_file}")

    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["File exists", "It's a file", "It's a directory"]
    assert "Found: s3://my-bucket/datasets/experiment_1" in out
    assert "Found: s3://my-bucket/datasets/top.parquet" in out and "  File size: 2" in out
    parquet = sorted(line for line in out if line.startswith("Parquet file: "))
    assert parquet == [
        "Parquet file: s3://my-bucket/datasets/experiment_1/deep/more.parquet",
        "Parquet file: s3://my-bucket/datasets/experiment_1/results.parquet",
        "Parquet file: s3://my-bucket/datasets/top.parquet",
    ]
    assert [line for line in out if line.startswith("CSV")] == ["CSV file: s3://my-bucket/datasets/experiment_1/a.csv"]


# -- Directory Management -------------------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_directory_management(aws):
    aws("my-bucket")
    from storecore import AutoPath, AutoStore

    store = AutoStore("./local-data")
    AutoPath("s3://my-bucket/empty-folder", store=store).mkdir()
    backend = storecore.backend_for("s3://my-bucket/")[0]
    for key in ("old-experiment/a.json", "old-experiment/sub/b.json"):
        backend.write_bytes(key, b"{}")

    # For local paths, this creates real directories
    local_dir = AutoPath("./data/analysis", store=store)
    local_dir.mkdir(parents=True, exist_ok=True)

    # Remove directories
    empty_dir = AutoPath("s3://my-bucket/empty-folder", store=store)
    empty_dir.rmdir()  # Remove empty directory

    # Delete files or directories with contents
    old_experiment = AutoPath("s3://my-bucket/old-experiment", store=store)
    old_experiment.delete()  # Recursively deletes all contents

    assert os.path.isdir("data/analysis")
    assert not empty_dir.exists() and not old_experiment.exists()
    local_dir.mkdir(parents=True, exist_ok=True)  # exist_ok really tolerates it


# -- File Transfer Operations -------------------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_file_transfer_operations(aws, s3_server):
    aws("backup-bucket", "data-bucket", "reports", "data")
    os.makedirs("data")
    Path("data/model.pt").write_bytes(b"model-bytes")
    os.makedirs("temp")
    Path("temp/processing.csv").write_text("a,b\n1,2\n")
    os.makedirs("analysis")
    Path("analysis/results.xlsx").write_bytes(b"PK\x03\x04xlsx")
    storecore.backend_for("s3://data/")[0].write_bytes("large_dataset.parquet", b"P" * 1000)
    from storecore import AutoPath, AutoStore

    store = AutoStore("./local-data")

    # Copy files between any backends
    local_file = AutoPath("./data/model.pt", store=store)
    s3_backup = AutoPath("s3://backup-bucket/models/model.pt", store=store)

    # Copy local file to S3
    local_file.copy_to(s3_backup)

    # Move files
    temp_file = AutoPath("./temp/processing.csv", store=store)
    final_location = AutoPath("s3://data-bucket/processed/final.csv", store=store)
    temp_file.move_to(final_location)

    # Upload from local filesystem
    local_source = "./analysis/results.xlsx"
    s3_destination = AutoPath("s3://reports/analysis/results.xlsx", store=store)
    s3_destination.upload_from(local_source)

    # Download to local filesystem
    s3_source = AutoPath("s3://data/large_dataset.parquet", store=store)
    local_destination = "./downloads/dataset.parquet"
    s3_source.download_to(local_destination)

    assert s3_text(s3_server, "backup-bucket", "models/model.pt") == b"model-bytes"
    assert os.path.exists("data/model.pt")
    assert s3_text(s3_server, "data-bucket", "processed/final.csv") == b"a,b\n1,2\n"
    assert not os.path.exists("temp/processing.csv")
    assert s3_text(s3_server, "reports", "analysis/results.xlsx") == b"PK\x03\x04xlsx"
    assert Path("downloads/dataset.parquet").read_bytes() == b"P" * 1000


# -- Data Loading with Automatic Format Detection ---------------------------------------------------------
@pytest.mark.s3
def test_autopath_data_loading_with_automatic_format_detection(aws):
    aws("data", "config", "experiments", "datasets")
    storecore.save(polars.DataFrame({"sales": [1, 2]}), "s3://data/sales.parquet")
    storecore.save({"theme": "dark"}, "s3://config/settings.json")
    # a parquet payload under a .csv name, which the example forces to parse as parquet
    storecore.save(polars.DataFrame({"c": [7]}), "s3://data/data.csv", format="parquet")
    from storecore import AutoPath, AutoStore

    store = AutoStore("./local-data", cache_enabled=True)

    # Load data with automatic format detection
    parquet_path = AutoPath("s3://data/sales.parquet", store=store)
    df = parquet_path.load()  # Returns Polars DataFrame

    json_path = AutoPath("s3://config/settings.json", store=store)
    settings = json_path.load()  # Returns dict

    # Force specific format
    csv_as_parquet = AutoPath("s3://data/data.csv", store=store)
    df = csv_as_parquet.load(format="parquet")  # Force parquet parsing

    # Bypass cache
    fresh_data = parquet_path.load(ignore_cache=True)

    # Save data with automatic format detection
    results = {"accuracy": 0.95, "model": "transformer"}
    results_path = AutoPath("s3://experiments/run_001/results.json", store=store)
    results_path.save(results)  # Automatically saves as JSON

    # Save DataFrame
    import polars as pl
    df = pl.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    data_path = AutoPath("s3://datasets/processed.parquet", store=store)
    data_path.save(df)  # Automatically saves as Parquet

    assert settings == {"theme": "dark"} and fresh_data["sales"].to_list() == [1, 2]
    assert results_path.load() == results
    assert data_path.load().equals(df)
    assert csv_as_parquet.load(format="parquet")["c"].to_list() == [7]


# -- AutoPath without Explicit Store ---------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_without_explicit_store(aws):
    aws("bucket")
    os.makedirs("data")
    Path("data/file.json").write_text('{"local": true}')
    storecore.save({"old": "data"}, "s3://bucket/file.json")
    from storecore import AutoPath

    # For local paths
    local_path = AutoPath("./data/file.json")  # Creates local store automatically

    # For S3 URIs
    s3_path = AutoPath("s3://bucket/file.json")  # Creates S3 store with default options

    # Path operations work the same
    data = s3_path.load()
    s3_path.save({"new": "data"})

    assert data == {"old": "data"} and s3_path.load() == {"new": "data"}
    assert local_path.load() == {"local": True}


# -- Advanced Path Operations ------------------------------------------------------------------------------
@pytest.mark.s3
def test_autopath_advanced_path_operations(aws, capsys):
    from storecore import AutoPath, AutoStore

    store = AutoStore("./local-data")
    local_path = AutoPath("./data/file.json")
    s3_path = AutoPath("s3://bucket/file.json")

    # Path pattern matching
    log_path = AutoPath("s3://logs/app.2024-01-15.log", store=store)
    if log_path.match("*.log"):
        print("It's a log file")

    # Relative paths
    base_path = AutoPath("s3://data/experiments", store=store)
    result_path = AutoPath("s3://data/experiments/run_1/results.json", store=store)
    relative = result_path.relative_to(base_path)  # "run_1/results.json"

    # Path transformations
    config_path = AutoPath("s3://app/config.yaml", store=store)
    backup_path = config_path.with_suffix(".yaml.bak")    # config.yaml.bak
    renamed_path = config_path.with_name("new_config.yaml")  # new_config.yaml
    stemmed_path = config_path.with_stem("production")       # production.yaml

    # Absolute and URI representations
    print(local_path.as_posix())   # Forward slashes
    print(local_path.as_uri())     # file:// URI
    print(s3_path.as_uri())        # s3:// URI
    print(s3_path.is_absolute())   # True for URIs

    out = capsys.readouterr().out.splitlines()
    assert out == ["It's a log file", "./data/file.json", Path("data/file.json").absolute().as_uri(),
                   "s3://bucket/file.json", "True"]
    assert relative == "run_1/results.json"
    assert (backup_path.name, renamed_path.name, stemmed_path.name) == ("config.yaml.bak", "new_config.yaml", "production.yaml")
    assert str(backup_path) == "s3://app/config.yaml.bak"


# -- Integration Example ----------------------------------------------------------------------------------
@pytest.mark.s3
def test_integration_example(aws, capsys):
    aws("raw-data", "processed")
    for month, rows in {"jan": [("north", 10.0), ("south", 5.0)], "feb": [("north", 1.0)]}.items():
        storecore.save(polars.DataFrame(rows, schema=["region", "sales"], orient="row"), f"s3://raw-data/sales/2024/{month}.parquet")
    from storecore import AutoPath, AutoStore
    from storecore.s3 import S3Options
    import polars as pl

    # Setup store with caching
    store = AutoStore(
        "./cache",
        options=[S3Options(
            scheme="s3",
            profile_name="production",
            cache_enabled=True,
            cache_expiry_hours=0  # Never expire
        )]
    )

    # Define paths
    raw_data = AutoPath("s3://raw-data/sales/2024/", store=store)
    processed_data = AutoPath("s3://processed/sales_summary.parquet", store=store)
    local_backup = AutoPath("./backups/sales_summary.parquet", store=store)

    # Process data using path-like interface
    if raw_data.is_dir():
        # Load all files in directory as dataset
        df = raw_data.load()  # Loads entire directory as LazyFrame

        # Process data
        summary = df.group_by("region").agg([
            pl.col("sales").sum().alias("total_sales"),
            pl.col("sales").count().alias("transaction_count")
        ])

        # Save processed data
        processed_data.save(summary.collect())

        # Create local backup
        processed_data.copy_to(local_backup)

        print(f"Processed {summary.height} regions")
        print(f"Backup created at: {local_backup}")

    assert capsys.readouterr().out.splitlines() == [
        "Processed 2 regions", "Backup created at: ./backups/sales_summary.parquet",
    ]
    backup = pl.read_parquet("backups/sales_summary.parquet").sort("region")
    assert backup["total_sales"].to_list() == [11.0, 5.0] and backup["transaction_count"].to_list() == [2, 1]


# -- Supported Data Types --------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_supported_data_types(where, request, cwd):
    from storecore import AutoStore

    if where == "s3":
        root = request.getfixturevalue("s3_root")
    else:
        root = "./types"
    store = AutoStore(root, allow_pickle=True)
    df = pl.DataFrame({"a": [1, 2]})
    cases = {
        "frame": (df, ".parquet"),
        "frame.csv": (df, ".csv"),
        "lazy": (df.lazy(), ".parquet"),
        "d": ({"k": [1, 2]}, ".json"),
        "lst": ([1, 2], ".json"),
        "records": ([{"e": 1}], ".jsonl"),
        "s": ("text", ".txt"),
        "page.html": ("<p>x</p>", ".html"),
        "notes.md": ("# x", ".md"),
        "arr": (np.arange(4), ".npy"),
        "arrs.npz": ({"x": np.arange(2)}, ".npz"),
        "cfg.yaml": ({"a": 1}, ".yaml"),
        "img.png": (np.zeros((3, 3), np.uint8), ".png"),
        "obj": ({1, 2}, ".pkl"),
    }
    for key, (obj, _) in cases.items():
        store[key] = obj
    listed = set(store.list_files("*"))
    for key, (obj, ext) in cases.items():
        name = key if key.endswith(ext) else key + ext
        assert name in listed
        back = store[key]
        if isinstance(obj, pl.LazyFrame | pl.DataFrame):
            assert back.equals(df)
        elif isinstance(obj, np.ndarray):
            assert np.array_equal(back, obj)
        elif key == "arrs.npz":
            assert np.array_equal(back["x"], obj["x"])
        else:
            assert back == obj


# -- Configuration Options ----------------------------------------------------------------------------------
def test_configuration_options_base_options():
    from storecore import Options

    base_options = Options(
        cache_enabled=True,           # Enable local caching
        cache_dir="./cache",          # Custom cache directory
        cache_expiry_hours=12,        # Cache expiration time (0 = never expire)
        timeout=30,                   # Request timeout in seconds
        max_retries=3,                # Maximum retry attempts
        retry_delay=1.0               # Delay between retries
    )
    assert base_options.cache_enabled and base_options.cache_dir == "./cache" and base_options.cache_expiry_hours == 12


def test_configuration_options_s3options():
    from storecore.s3 import S3Options

    s3_options = S3Options(
        # Scheme specification for multi-backend support
        scheme="s3",                          # URI scheme this options applies to

        # Authentication
        aws_access_key_id="your-key",
        aws_secret_access_key="your-secret",
        profile_name="my-profile",            # AWS profile name

        # Configuration
        region_name="us-east-1",
        endpoint_url="custom-endpoint",       # For S3-compatible services

        # Performance
        multipart_threshold=64 * 1024 * 1024, # Files > 64MB use multipart
        multipart_chunksize=16 * 1024 * 1024, # Chunk size for uploads
        max_concurrency=10,                   # Concurrent operations

        # Inherited from Options
        cache_enabled=True,
        cache_expiry_hours=6          # 0 = never expire
    )
    opts = s3_options.backend_options()
    assert opts["endpoint_url"] == "custom-endpoint" and opts["aws_secret_access_key"] == "your-secret"
    assert opts["multipart_threshold"] == 64 * 1024 * 1024 and opts["max_concurrency"] == 10
    assert "your-secret" not in repr(s3_options) and "your-key" not in repr(s3_options)


# -- Usage Patterns -------------------------------------------------------------------------------------------
@pytest.mark.s3
def test_usage_patterns(aws):
    aws("bucket")
    from storecore import AutoStore
    from storecore.s3 import S3Options

    # Method 1: Keyword arguments
    store = AutoStore("s3://bucket/", profile_name="prod", cache_enabled=True)
    assert store.options.profile_name == "prod" and store.options.cache_enabled

    # Method 2: Single options object
    options = S3Options(scheme="s3", profile_name="prod", cache_enabled=True)
    store = AutoStore("s3://bucket/", options=options)
    assert store.options is options

    # Method 3: Multiple options for different services
    aws_options = S3Options(scheme="s3", profile_name="aws-prod")
    minio_options = S3Options(scheme="minio", endpoint_url="https://minio.example.com")
    store = AutoStore("./cache", options=[aws_options, minio_options])
    assert store._options["minio"] is minio_options

    # Method 4: Mixed (options object + additional kwargs)
    base_options = S3Options(scheme="s3", profile_name="prod")
    store = AutoStore("s3://bucket/", options=base_options, cache_enabled=True)
    assert store.options.cache_enabled and store.options.profile_name == "prod" and not base_options.cache_enabled

    store["pattern"] = {"ok": True}
    assert store["pattern"] == {"ok": True}


# -- Advanced Features: Backend Management --------------------------------------------------------------------
@pytest.mark.s3
def test_backend_management(aws, s3_server, capsys):
    aws("bucket")
    from storecore import AutoStore
    from storecore.s3 import S3Options

    store = AutoStore("./data", options=[
        S3Options(scheme="s3", profile_name="aws-prod"),
        S3Options(scheme="minio", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.access_key,
                  aws_secret_access_key=s3_server.secret_key),
        S3Options(scheme="digitalocean", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.access_key,
                  aws_secret_access_key=s3_server.secret_key),
    ])
    aws("bucket", "space")
    for uri in ("s3://bucket/file.json", "minio://bucket/file.json", "digitalocean://space/file.json"):
        store[uri] = {"from": uri}

    # Register new S3-compatible services
    AutoStore.register_scheme("minio", "storecore.s3")
    AutoStore.register_scheme("digitalocean", "storecore.s3")

    # Check supported backends
    backends = store.get_supported_backends()
    print(f"Available: {backends}")  # ['s3', 'minio', 'digitalocean', 'file', '']

    # View active backends
    active = store.list_active_backends()
    print(f"Active: {active}")  # ['primary: ./data', 's3: s3://bucket/', 'minio: minio://bucket/']

    # Backend auto-loading with appropriate options
    data = store["s3://bucket/file.json"]              # Uses AWS S3 options
    data = store["minio://bucket/file.json"]           # Uses MinIO options
    data = store["digitalocean://space/file.json"]     # Uses DigitalOcean options

    assert data == {"from": "digitalocean://space/file.json"}
    assert {"s3", "minio", "digitalocean", "file", ""} <= set(backends) and backends[-2:] == ["file", ""]
    assert active == ["primary: ./data", "s3: s3://bucket/", "minio: minio://bucket/", "digitalocean: digitalocean://space/"]
    assert s3_server.secret_key not in capsys.readouterr().out


# -- Advanced Features: Dataset Operations ------------------------------------------------------------------
@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_dataset_operations(where, request, cwd):
    from storecore import AutoStore

    root = request.getfixturevalue("s3_root") if where == "s3" else "./data"
    store = AutoStore(root)
    store["path/to/data/part1.parquet"] = pl.DataFrame({"x": [1]})
    store["path/to/data/part2.parquet"] = pl.DataFrame({"x": [2]})
    store["dataset/a.csv"] = pl.DataFrame({"y": [1]})
    store["weather_data/w.parquet"] = pl.DataFrame({"t": [3.5]})

    # Dataset detection
    is_dataset = store.primary_backend.is_dataset("path/to/data/")
    is_directory = store.primary_backend.is_directory("path/")

    # List dataset files
    files = list(store.list_files("dataset/*", recursive=True))

    # Load entire dataset (for parquet/CSV collections)
    lazy_frame = store["weather_data/"]  # Loads all parquet files as one LazyFrame

    store["notes/n"] = {"a": 1}
    assert is_dataset and is_directory and not store.primary_backend.is_dataset("notes/")
    assert files == ["dataset/a.csv"]
    assert lazy_frame.collect()["t"].to_list() == [3.5]


# -- Caching System ----------------------------------------------------------------------------------------------
@pytest.mark.s3
def test_caching_system(aws, capsys):
    aws("bucket")
    storecore.save(np.arange(1000), "s3://bucket/large_file.npy")
    from storecore import AutoStore

    # Enable caching for any backend
    store = AutoStore("s3://bucket/", cache_enabled=True, cache_expiry_hours=6)

    # Never expire cache entries (useful for immutable data)
    store = AutoStore("s3://bucket/", cache_enabled=True, cache_expiry_hours=0)

    assert np.array_equal(store["large_file"], np.arange(1000))
    assert np.array_equal(store["large_file"], np.arange(1000))
    cache = next(iter(store._caches.values()))
    assert (cache.misses, cache.hits) == (1, 1)

    # Cache management
    store.cleanup_cache()  # Remove expired cache entries

    # Check cache status
    metadata = store.get_metadata("large_file")
    print(f"File size: {metadata.size} bytes")
    print(f"ETag: {metadata.etag}")

    assert capsys.readouterr().out.splitlines()[0] == f"File size: {np.arange(1000).nbytes + 128} bytes"
    assert len(cache.entries()) == 1 and cache.entries()[0].etag == metadata.etag


# -- Custom Data Handlers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_custom_data_handlers(where, request, cwd):
    from storecore import AutoStore

    store = AutoStore(request.getfixturevalue("s3_root") if where == "s3" else "./data")

    from pathlib import Path
    from storecore.autostore import DataHandler

    class CustomLogHandler(DataHandler):
        def can_handle_extension(self, extension: str) -> bool:
            return extension.lower() == ".log"

        def can_handle_data(self, data) -> bool:
            return isinstance(data, list) and all(
                isinstance(item, dict) and "timestamp" in item
                for item in data
            )

        def read_from_file(self, file_path: Path, file_extension: str):
            logs = []
            with open(file_path, 'r') as f:
                for line in f:
                    if line.strip():
                        logs.append(json.loads(line))
            return logs

        def write_to_file(self, data, file_path: Path, file_extension: str):
            file_path.parent.mkdir(parents=True, exist_ok=True)
            with open(file_path, 'w') as f:
                for entry in data:
                    f.write(json.dumps(entry) + '\n')

        @property
        def extensions(self):
            return [".log"]

        @property
        def priority(self):
            return 15

    # Register the handler
    store.register_handler(CustomLogHandler())

    logs = [{"timestamp": 1, "msg": "a"}, {"timestamp": 2, "msg": "b"}]
    store["app"] = logs
    assert "app.log" in set(store.list_files("*"))
    assert store["app"] == logs and store["app.log"] == logs
    store["plain"] = [{"event": "no timestamp"}]
    assert "plain.jsonl" in set(store.list_files("*"))


# -- File Operations ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_file_operations(where, request, cwd, capsys):
    from storecore import AutoStore

    store = AutoStore(request.getfixturevalue("s3_root") if where == "s3" else "./data")
    store["config"] = {"a": 1}
    store["large_dataset"] = np.zeros(100)
    store["original"] = {"o": 1}
    store["temp_file"] = "temporary"
    store["old_data"] = [1, 2]

    # Check existence
    if "config" in store:
        print("Config file exists")

    # List all files
    for key in store.keys():
        print(f"File: {key}")

    # Get file metadata
    metadata = store.get_metadata("large_dataset")
    print(f"Size: {metadata.size} bytes")
    print(f"Modified: {metadata.modified_time}")

    # Copy and move files
    store.copy("original", "backup")
    store.move("temp_file", "permanent_file")

    # Delete files
    del store["old_data"]

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Config file exists"
    assert sorted(line for line in out if line.startswith("File: ")) == [
        f"File: {k}" for k in sorted(["config", "large_dataset", "original", "temp_file", "old_data"])
    ]
    assert f"Size: {np.zeros(100).nbytes + 128} bytes" in out
    assert store["backup"] == {"o": 1} and store["original"] == {"o": 1}
    assert store["permanent_file"] == "temporary" and "temp_file" not in store
    assert "old_data" not in store
    assert sorted(store.keys()) == ["backup", "config", "large_dataset", "original", "permanent_file"]


# -- Context Management ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_context_management(where, request, cwd):
    from storecore import AutoStore, Options

    root = request.getfixturevalue("s3_root") if where == "s3" else "./data"
    config = Options(cache_enabled=True, cache_dir=str(cwd / "c"))
    large_dataset = pl.DataFrame({"v": list(range(1000))})

    # Automatic cleanup of temporary files and cache
    with AutoStore(root, config=config) as store:
        store["data"] = large_dataset
        results = store["data"]
        temp = store._temp()
    # Temporary files are automatically cleaned up here

    assert results.equals(large_dataset)
    assert not os.path.exists(temp)


# -- What the published package's own test suite sets up (tests/conftest.py) ------------------------------------
def test_peer_suite_pathlib_root_and_sample_data(tmp_path):
    from storecore import AutoStore

    store = AutoStore(tmp_path / "store")  # a pathlib.Path root
    sample = {
        "json_data": {"key": "value", "numbers": [1, 2, 3]},
        "text_data": "This is sample text content",
        "complex_data": {"nested": {"object": {"with": ["multiple", "levels", "of", "nesting"],
                                               "and": {"various": "data", "types": True, "numbers": 42}}}},
    }
    for key, value in sample.items():
        store[key] = value
    assert {k: store[k] for k in sample} == sample
    assert sorted(store.keys()) == sorted(sample) and len(store) == 3
    assert sorted(store.list_files("*.json")) == ["complex_data.json", "json_data.json"]
    assert store.exists("text_data") and (tmp_path / "store" / "text_data.txt").read_text() == sample["text_data"]
    with store:
        store["nested/deep/key"] = {"x": 1}
    assert list(store.list_files("nested/*", recursive=True)) == ["nested/deep/key.json"]
    assert list(store.list_files("nested/*", recursive=False)) == []
    assert sorted(store.list_files("**/*.json", recursive=False)) == [
        "complex_data.json", "json_data.json", "nested/deep/key.json",
    ]
