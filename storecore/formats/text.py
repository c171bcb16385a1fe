"""Text handlers: plain text (``.txt/.md/.html/.log``), JSON (also dataclasses and pydantic
models as ``.dataclass.json`` / ``.pydantic.json``), YAML and raw bytes (``.bin``)."""

from __future__ import annotations

import dataclasses
import json
from typing import IO, Any

from ..errors import FormatError
from .registry import Handler


def _read_text(f: IO[bytes], *, encoding: str = "utf-8", **_kw: Any) -> str:
    return f.read().decode(encoding)


def _write_text(obj: Any, f: IO[bytes], *, encoding: str = "utf-8", **_kw: Any) -> None:
    if not isinstance(obj, str):
        raise FormatError(f"a text file takes a str, got {type(obj).__name__}")
    f.write(obj.encode(encoding))


def _json_default(obj: Any) -> Any:
    """Encode what ``json`` cannot: numpy scalars/arrays, dataclasses, sets, paths."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if hasattr(obj, "model_dump"):  # pydantic v2
        return obj.model_dump()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _read_json(f: IO[bytes], **_kw: Any) -> Any:
    try:
        # bytes, as they are: json finds UTF-8 with or without a byte-order mark (Windows tools write one), UTF-16/32
        return json.loads(f.read())
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON: {e.msg} at line {e.lineno}") from e


def _write_json(obj: Any, f: IO[bytes], *, indent: int | None = 2, **kw: Any) -> None:
    kw.pop("allow_pickle", None)
    try:
        text = json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default, **kw)
    except (TypeError, ValueError) as e:
        raise FormatError(f"cannot encode as JSON: {e}") from e
    f.write(text.encode("utf-8"))


def _is_json_like(obj: Any) -> bool:
    return isinstance(obj, dict | list | tuple | int | float | bool)


def _is_dataclass(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _is_pydantic(obj: Any) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "model_dump", None))


def _read_yaml(f: IO[bytes], **_kw: Any) -> Any:
    import yaml

    try:
        return yaml.safe_load(f.read().decode("utf-8"))
    except yaml.YAMLError as e:
        raise FormatError(f"not valid YAML: {e}") from e


def _write_yaml(obj: Any, f: IO[bytes], **kw: Any) -> None:
    import yaml

    kw.pop("allow_pickle", None)
    try:
        text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, **kw)
        # PyYAML writes some characters (NEL, U+0085) raw and reads them back changed: escape then.
        if "\x85" in text and yaml.safe_load(text) != obj:
            text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=False, **kw)
    except yaml.YAMLError as e:
        raise FormatError(f"cannot encode as YAML: {e}") from e
    f.write(text.encode("utf-8"))


def _read_bytes(f: IO[bytes], **_kw: Any) -> bytes:
    return f.read()


def _write_bytes(obj: Any, f: IO[bytes], **_kw: Any) -> None:
    f.write(bytes(obj))


HANDLERS = [
    Handler("text", [".txt", ".md", ".html", ".htm", ".log", ".rst"], [str], 10, read=_read_text, write=_write_text),
    Handler("json", [".json"], [], 10, read=_read_json, write=_write_json, accepts=_is_json_like),
    # Structured objects are stored as their fields; reading gives the plain dict back (as autostore does).
    Handler("dataclass", [".dataclass.json"], [], 11, read=_read_json, write=_write_json, accepts=_is_dataclass),
    Handler("pydantic", [".pydantic.json"], [], 11, read=_read_json, write=_write_json, accepts=_is_pydantic),
    Handler("yaml", [".yaml", ".yml"], [], 0, read=_read_yaml, write=_write_yaml),
    Handler("bytes", [".bin"], [bytes, bytearray, memoryview], 10, read=_read_bytes, write=_write_bytes),
]
