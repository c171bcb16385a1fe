"""The local file system backend: atomic writes, incremental listings, real file handles."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat as stat_mod
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

from ..errors import (
    AlreadyExists,
    BackendUnavailable,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    PermissionDenied,
    StorecoreError,
)
from ..location import normalize_key
from .base import Backend, DiscardOnError, Entry, Progress, ProgressCallback, copy_stream

PAGE_SIZE = 1000
#: Temporary files of in-flight atomic writes carry this suffix and are hidden from listings.
TMP_SUFFIX = ".storecore-tmp"


@contextlib.contextmanager
def os_errors(uri: str) -> Iterator[None]:
    """Translate ``OSError`` into storecore errors that name ``uri`` and keep the cause."""
    try:
        yield
    except StorecoreError:
        raise
    except FileNotFoundError as e:
        raise NotFound(f"{uri}: no such file or directory", path=uri) from e
    except IsADirectoryError as e:
        raise IsADirectory(f"{uri}: is a directory", path=uri) from e
    except NotADirectoryError as e:
        raise NotADirectory(f"{uri}: not a directory", path=uri) from e
    except FileExistsError as e:
        raise AlreadyExists(f"{uri}: already exists", path=uri) from e
    except PermissionError as e:
        raise PermissionDenied(f"{uri}: permission denied", path=uri) from e
    except OSError as e:
        if e.errno == errno.ENOTEMPTY:
            raise AlreadyExists(f"{uri}: directory not empty", path=uri) from e
        raise BackendUnavailable(f"{uri}: {e.strerror or e}", path=uri) from e


class AtomicLocalFile(DiscardOnError, io.FileIO):
    """A temporary file beside ``target`` that replaces it on a clean close (fsync + rename).

    If the writer raises inside ``with``, or the process dies, the target is
    untouched; a leftover temporary file is hidden from listings.
    """

    def __init__(self, target: str) -> None:
        directory = os.path.dirname(target) or "."
        os.makedirs(directory, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=TMP_SUFFIX, dir=directory)
        super().__init__(fd, "wb", closefd=True)
        self.target = target
        self._discarded = False

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._discarded:
                self.flush()
                os.fsync(self.fileno())
        except BaseException:
            self._discarded = True
            raise
        finally:
            super().close()
            if self._discarded:
                with contextlib.suppress(OSError):
                    os.unlink(self._tmp)
            else:
                try:
                    mode = os.stat(self.target).st_mode if os.path.exists(self.target) else None
                    if mode is not None:
                        os.chmod(self._tmp, stat_mod.S_IMODE(mode))
                    else:
                        umask = os.umask(0)
                        os.umask(umask)
                        os.chmod(self._tmp, 0o666 & ~umask)
                    os.replace(self._tmp, self.target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(self._tmp)
                    raise


class LocalBackend(Backend):
    """Files under ``root`` (``/`` by default, in which case keys are absolute paths)."""

    scheme = "file"
    is_local = True
    strict_names = True

    def __init__(self, root: str = "/", **_options: Any) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.bucket = ""

    def local_path(self, path: str) -> str | None:
        """The absolute file system path of ``path``."""
        return self.full(path)

    def find_prefixed(self, key: str, suffixes: Any = ()) -> list[tuple[str, str]]:
        """One ``stat`` per suffix: cheap on a local disk, whatever the folder holds."""
        key = self.key(key)
        full = self.full(key)
        base = key.rsplit("/", 1)[-1]
        return [(base + ext, self.entry_path(key + ext)) for ext in suffixes if os.path.isfile(full + ext)]

    # naming ------------------------------------------------------------------
    def full(self, path: str) -> str:
        """The absolute file system path of key ``path`` (refuses escapes from the root)."""
        key = normalize_key(os.fspath(path), text=os.path.join(self.root, os.fspath(path)))
        return os.path.join(self.root, key) if key else self.root

    def entry_path(self, key: str) -> str:
        return "/" + key if self.root == "/" else key

    def uri(self, path: str = "") -> str:
        try:
            return self.full(path)
        except StorecoreError:
            return os.path.join(self.root, str(path))

    def _entry(self, full: str, st: os.stat_result, name: str | None = None) -> Entry:
        rel = os.path.relpath(full, self.root)
        key = "" if rel == "." else rel.replace(os.sep, "/")
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        return Entry(
            path=self.entry_path(key),
            name=name if name is not None else os.path.basename(full),
            size=None if is_dir else st.st_size,
            mtime=st.st_mtime,
            etag=None if is_dir else f"{st.st_mtime_ns:x}-{st.st_size:x}",
            is_dir=is_dir,
        )

    # primitives ------------------------------------------------------------
    def ls_pages(self, prefix: str = "", recursive: bool = False) -> Iterator[list[Entry]]:
        top = self.full(prefix)
        with os_errors(top):
            if not os.path.isdir(top):
                os.stat(top)  # NotFound if absent
                raise NotADirectory(f"{top}: not a directory", path=top)
        pending = deque([top])
        page: list[Entry] = []
        while pending:
            directory = pending.popleft()
            try:
                it = os.scandir(directory)
            except OSError:
                if directory == top:
                    with os_errors(top):
                        raise
                continue  # an unreadable sub-directory is skipped, as `find` does
            with it:
                for de in it:
                    if de.name.endswith(TMP_SUFFIX):
                        continue
                    try:
                        is_dir = de.is_dir()
                        st = de.stat()
                    except OSError:
                        continue  # broken symlink or vanished entry
                    if recursive and is_dir:
                        if not de.is_symlink():
                            pending.append(de.path)
                        continue
                    page.append(self._entry(de.path, st, de.name))
                    if len(page) >= PAGE_SIZE:
                        yield page
                        page = []
        if page:
            yield page

    def stat(self, path: str) -> Entry:
        full = self.full(path)
        with os_errors(full):
            return self._entry(full, os.stat(full))

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        full = self.full(path)
        with os_errors(full), open(full, "rb") as f:
            f.seek(start)
            return f.read() if end is None else f.read(max(0, end - start))

    def open(self, path: str, mode: str = "rb", **_kw: Any) -> IO[bytes]:  # type: ignore[override]
        """Open a real file handle (``rb``) or an :class:`AtomicLocalFile` (``wb``)."""
        full = self.full(path)
        with os_errors(full):
            if mode in ("wb", "w"):
                if os.path.isdir(full):
                    raise IsADirectory(f"{full}: is a directory", path=full)
                return AtomicLocalFile(full)
            if mode not in ("rb", "r"):
                raise InvalidArgument(f"unsupported mode {mode!r} (use 'rb' or 'wb')")
            if os.path.isdir(full):
                raise IsADirectory(f"{full}: is a directory", path=full)
            return open(full, "rb")

    def open_stream(self, path: str) -> IO[bytes]:
        return self.open(path, "rb")

    def write_from(
        self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None, size: int | None = None
    ) -> None:
        full = self.full(path)
        with os_errors(full):
            if os.path.isdir(full):
                raise IsADirectory(f"{full}: is a directory", path=full)
            with AtomicLocalFile(full) as out:
                copy_stream(fileobj, out, Progress(progress, size))

    def write_bytes(self, path: str, data: bytes, *, progress: ProgressCallback | None = None) -> None:
        full = self.full(path)
        with os_errors(full):
            if os.path.isdir(full):
                raise IsADirectory(f"{full}: is a directory", path=full)
            with AtomicLocalFile(full) as out:
                out.write(data)
        if progress is not None:
            progress(len(data), len(data))

    def mkdir(self, path: str, exist_ok: bool = True) -> None:
        full = self.full(path)
        with os_errors(full):
            if os.path.isfile(full):
                raise AlreadyExists(f"{full}: a file exists there", path=full)
            os.makedirs(full, exist_ok=exist_ok)

    def delete(self, path: str, recursive: bool = True) -> None:
        full = self.full(path)
        if full == self.root:
            raise InvalidArgument(f"refusing to delete the backend root {full}")
        with os_errors(full):
            if os.path.isdir(full) and not os.path.islink(full):
                if recursive:
                    shutil.rmtree(full)
                else:
                    os.rmdir(full)
            else:
                os.unlink(full)

    # fast paths ----------------------------------------------------------------
    def _copy_file(self, src: str, dst: str, progress: ProgressCallback | None) -> None:
        sfull, dfull = self.full(src), self.full(dst)
        with os_errors(sfull), open(sfull, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            with os_errors(dfull), AtomicLocalFile(dfull) as out:
                copy_stream(f, out, Progress(progress, size))

    def move(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        sfull, dfull = self.full(src), self.full(dst)
        with os_errors(sfull):
            st = os.stat(sfull)
        with os_errors(dfull):
            os.makedirs(os.path.dirname(dfull), exist_ok=True)
            if os.path.isdir(dfull) and not stat_mod.S_ISDIR(st.st_mode):
                raise IsADirectory(f"{dfull}: is a directory", path=dfull)
            try:
                os.replace(sfull, dfull)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
                super().move(src, dst, progress=progress)
                return
        if progress is not None and not stat_mod.S_ISDIR(st.st_mode):
            progress(st.st_size, st.st_size)

    def __repr__(self) -> str:
        return f"<LocalBackend root={self.root!r}>"
