"""Downloads written around the page cache (``O_DIRECT``): the same bytes, verified, whatever the alignment."""

from __future__ import annotations

import os

import pytest
from transfer_helpers import write

from storecore.transfer import JobState, TransferQueue, direct, multipart
from storecore.tuning import DEFAULT

MiB = 1024 * 1024
PART = 5 * MiB


def _direct_fd_or_skip(path: str, size: int) -> int:
    fd = direct.open_direct(path, size)
    if fd is None:
        pytest.skip("this file system takes no O_DIRECT writes")
    return fd


def _writer(path: str, size: int) -> tuple[int, direct.DirectWriter, list[tuple[int, int]]]:
    """A DirectWriter on a new file of ``size`` bytes, and the list its buffered writes are recorded in."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    buffered: list[tuple[int, int]] = []

    def through_cache(view: memoryview, offset: int) -> None:
        buffered.append((offset, len(view)))
        multipart._write_at(fd, view, offset)

    return fd, direct.DirectWriter(_direct_fd_or_skip(path, size), through_cache), buffered


def test_aligned_chunks_go_around_the_cache_and_the_tail_through_it(tmp_path):
    path = str(tmp_path / "f.bin")
    data = os.urandom(3 * 65536 + 1000)  # three aligned chunks and a tail of 1,000 bytes
    fd, writer, buffered = _writer(path, len(data))
    buf = direct.aligned_buffer(65536)
    try:
        for offset in range(0, len(data), 65536):
            piece = data[offset : offset + 65536]
            buf[: len(piece)] = piece
            writer(buf[: len(piece)], offset)
    finally:
        writer.close()
        os.close(fd)
    assert writer.direct
    assert buffered == [(3 * 65536, 1000)]  # only the unaligned tail went through the page cache
    with open(path, "rb") as f:
        assert f.read() == data


def test_a_chunk_off_the_alignment_is_written_through_the_cache(tmp_path):
    path = str(tmp_path / "f.bin")
    data = os.urandom(40_000)
    fd, writer, buffered = _writer(path, len(data))
    buf = direct.aligned_buffer(len(data))
    buf[:] = data
    try:
        writer(buf[:100], 0)  # aligned offset, a length below one block: buffered
        writer(buf[100:], 100)  # unaligned offset: buffered whole
    finally:
        writer.close()
        os.close(fd)
    assert buffered == [(0, 100), (100, len(data) - 100)]
    with open(path, "rb") as f:
        assert f.read() == data


def test_memory_the_kernel_refuses_turns_the_writer_buffered_and_loses_nothing(tmp_path):
    path = str(tmp_path / "f.bin")
    data = os.urandom(64 * 1024)
    fd, writer, buffered = _writer(path, 2 * len(data))
    # bytes objects are not page-aligned: the direct write is refused (EINVAL) and the bytes go buffered
    odd = bytearray(len(data) + 1)
    odd[1:] = data
    try:
        writer(memoryview(odd)[1:], 0)
        writer(data, len(data))
    finally:
        writer.close()
        os.close(fd)
    with open(path, "rb") as f:
        assert f.read() == data + data
    if writer.direct:  # a file system that takes any memory (tmpfs since 6.6 buffers O_DIRECT itself)
        assert buffered == []
    else:  # refused once (ext4, XFS): from then on every byte goes through the page cache
        assert sum(n for _, n in buffered) == 2 * len(data)


def test_preallocation_reserves_the_blocks_of_a_sparse_file(tmp_path):
    path = str(tmp_path / "f.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, 8 * MiB)  # as a download's temporary file: its size set, no blocks yet
        if not direct.preallocate(fd, 8 * MiB):
            pytest.skip("this file system cannot preallocate")
        st = os.fstat(fd)
        assert st.st_size == 8 * MiB and st.st_blocks * 512 >= 8 * MiB
        assert os.pread(fd, 4096, 4 * MiB) == bytes(4096)  # reserved blocks read as zeros
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [6 * PART, 6 * PART + 4097, 4 * PART + 1])
def test_a_big_download_written_directly_is_whole_and_verified(s3_root, tmp_path, monkeypatch, size):
    if not _takes_direct(tmp_path):
        pytest.skip("this file system takes no O_DIRECT writes")
    opened: list[int] = []
    real_open = multipart.open_direct

    def counting_open(path: str, size: int) -> int | None:
        fd = real_open(path, size)
        opened.append(size)
        return fd

    monkeypatch.setattr(multipart, "open_direct", counting_open)
    data = os.urandom(size)
    write(str(tmp_path / "src.bin"), data)
    with TransferQueue(part_size=PART, history=False) as q:
        q.direct_min = PART  # the tests' objects are small
        assert q.submit(str(tmp_path / "src.bin"), f"{s3_root}/d.bin").wait(60) is JobState.DONE
        job = q.submit(f"{s3_root}/d.bin", str(tmp_path / "dl" / "d.bin"))
        assert job.wait(60) is JobState.DONE, job.error
    assert opened == [size]
    assert (tmp_path / "dl" / "d.bin").read_bytes() == data
    assert os.listdir(tmp_path / "dl") == ["d.bin"]
    assert job.report()[0].verified


@pytest.mark.parametrize("size, suits", [(DEFAULT.transfer_direct_min - 1, None), (6 * PART, False)],
                         ids=["below-the-threshold", "a-network-or-fuse-mount"])
def test_a_download_stays_buffered_below_the_threshold_or_off_local_file_systems(s3_root, tmp_path, monkeypatch,
                                                                                 size, suits):
    opened: list[int] = []
    monkeypatch.setattr(multipart, "open_direct", lambda path, size: opened.append(size))
    if suits is not None:
        monkeypatch.setattr(multipart, "suits_direct", lambda fd: suits)
    data = os.urandom(size)
    write(str(tmp_path / "src.bin"), data)
    with TransferQueue(part_size=PART, history=False) as q:
        assert q.submit(str(tmp_path / "src.bin"), f"{s3_root}/d.bin").wait(60) is JobState.DONE
        assert q.submit(f"{s3_root}/d.bin", str(tmp_path / "d.bin")).wait(60) is JobState.DONE
    assert opened == []
    assert (tmp_path / "d.bin").read_bytes() == data


@pytest.mark.parametrize("size", [1024 * 1024, 1024 * 1024 + 1000])
def test_a_small_download_on_a_local_file_system_is_written_directly_in_one_stream(s3_root, tmp_path, size,
                                                                                   monkeypatch):
    if not _takes_direct(tmp_path):
        pytest.skip("this file system or device takes no direct writes")
    opened: list[int] = []
    real_open = multipart.open_direct
    monkeypatch.setattr(multipart, "open_direct", lambda path, n: opened.append(n) or real_open(path, n))
    names = [f"f{i}.bin" for i in range(6)]
    data = {name: os.urandom(size) for name in names}
    for name in names:
        write(str(tmp_path / "src" / name), data[name])
    with TransferQueue(part_size=PART, history=False, durable=False) as q:
        assert q.submit(str(tmp_path / "src"), f"{s3_root}/many").wait(60) is JobState.DONE
        job = q.submit(f"{s3_root}/many", str(tmp_path / "dl"))
        assert job.wait(60) is JobState.DONE, job.error
    assert opened == [size] * len(names)  # the default threshold, one stream each
    assert sorted(os.listdir(tmp_path / "dl")) == names  # no temporary file left
    for name in names:
        assert (tmp_path / "dl" / name).read_bytes() == data[name]
    assert all(record.verified for record in job.report())


MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:23 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,size=24683664k
31 22 259:2 /home /home rw,relatime shared:12 master:4 - xfs /dev/nvme0n1p2 rw,attr2
40 22 0:52 / /mnt/data rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 22 0:53 / /mnt/ssh rw,nosuid,nodev,relatime - fuse.sshfs user@host:/ rw,user_id=1000
44 22 0:41 / /srv rw,relatime - btrfs /dev/sda3 rw,ssd,space_cache=v2
"""


def test_the_mount_table_names_each_devices_file_system(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text(MOUNTINFO)
    kinds = {dev: direct.file_system_type(*dev, mountinfo=str(table))
             for dev in [(254, 0), (0, 23), (259, 2), (0, 52), (0, 53), (0, 41), (8, 1)]}
    assert kinds == {(254, 0): "ext4", (0, 23): "tmpfs", (259, 2): "xfs", (0, 52): "nfs4", (0, 53): "fuse.sshfs",
                     (0, 41): "btrfs", (8, 1): None}  # optional fields (master:4) or none before the "-"
    suited = {dev for dev, kind in kinds.items() if kind in direct.LOCAL_BLOCK_FILE_SYSTEMS}
    assert suited == {(254, 0), (259, 2), (0, 41)}  # network, FUSE and memory file systems keep the page cache
    assert direct.file_system_type(254, 0, mountinfo=str(tmp_path / "none")) is None  # no such table: no platform


def _takes_direct(folder) -> bool:
    path = str(folder / ".probe")
    with open(path, "wb"):
        pass
    try:
        fd = direct.open_direct(path, 0)
        if fd is None:
            return False
        os.close(fd)
        with open(path, "rb") as f:
            return direct.suits_direct(f.fileno())
    finally:
        os.unlink(path)


def test_a_file_fetched_to_be_read_keeps_the_page_cache(s3_root, tmp_path, monkeypatch):
    """``download_file`` (the remote cache, ``read_to``) hands its file to a reader right away: no direct writes."""
    import storecore
    from storecore.transfer.objects import download_file

    opened: list[int] = []
    monkeypatch.setattr(multipart, "open_direct", lambda path, size: opened.append(size))
    data = os.urandom(80 * MiB)  # over transfer_direct_min, in several parts
    backend, loc = storecore.backend_for(f"{s3_root}/big.bin")
    backend.write_bytes(loc.path, data)
    entry = backend.stat(loc.path)
    download_file(backend, backend.key(loc.path), str(tmp_path / "big.bin"), size=entry.size, etag=entry.etag)
    assert opened == []
    assert (tmp_path / "big.bin").read_bytes() == data


def test_bytes_damaged_in_flight_are_caught_on_the_direct_path_and_nothing_is_left(s3_root, tmp_path, monkeypatch):
    from storecore.errors import ChecksumMismatch

    if not _takes_direct(tmp_path):
        pytest.skip("this file system takes no O_DIRECT writes")
    data = os.urandom(6 * PART)
    write(str(tmp_path / "src.bin"), data)
    with TransferQueue(part_size=PART, history=False) as q:
        assert q.submit(str(tmp_path / "src.bin"), f"{s3_root}/d.bin").wait(60) is JobState.DONE
    real_read = multipart._read_body

    def damaging_read(body):
        for i, chunk in enumerate(real_read(body)):
            if i == 1:
                chunk[5] ^= 0xFF  # in place, in the aligned buffer: the direct write still goes ahead
            yield chunk

    monkeypatch.setattr(multipart, "_read_body", damaging_read)
    with TransferQueue(part_size=PART, history=False) as q:
        q.direct_min = PART
        job = q.submit(f"{s3_root}/d.bin", str(tmp_path / "dl" / "d.bin"))
        assert job.wait(60) is JobState.FAILED
    assert isinstance(job.exception, ChecksumMismatch) and "does not match" in job.error
    assert os.listdir(tmp_path / "dl") == []

