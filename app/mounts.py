"""Mount specifications and their persistence in QSettings.

A mount is a named root shown at the top of the tree: a local folder, an S3
bucket/prefix (on AWS or any S3-compatible endpoint), a Zarr store or an HDF5
file.  An S3 mount with its own endpoint, region, profile or keys gets its own
storecore scheme (``register_scheme(name, "s3", ...)``) so the tree addresses
it as ``name://bucket/prefix``.

Secrets are never written to the settings file: a profile name is stored,
typed access keys live only for the session unless the user opts in to the
system keyring (when the ``keyring`` module is importable).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

KINDS = ("local", "s3", "zarr", "hdf5")
KEYRING_SERVICE = "storescope"
SETTINGS_GROUP = "mounts"


def keyring_available() -> bool:
    """True when the optional ``keyring`` module can be imported."""
    try:
        import keyring  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        log.debug("keyring unavailable: %s", e)
        return False
    return True


def guess_kind(uri: str) -> str:
    """The mount kind for ``uri``: container by extension, else local or s3."""
    from storecore.detect import format_by_name

    fmt = format_by_name(uri)
    if fmt is not None:
        return fmt
    return "local" if "://" not in uri or uri.startswith("file://") else "s3"


def default_name(uri: str) -> str:
    """A short display name for a mount of ``uri`` (last path part, or the bucket)."""
    body = uri.split("://", 1)[-1].split("::", 1)[0].rstrip("/")
    return body.rsplit("/", 1)[-1] or uri


def scheme_name_for(name: str) -> str:
    """A valid storecore scheme name derived from a mount name (``My MinIO`` → ``my-minio``)."""
    text = re.sub(r"[^a-z0-9+.\-]+", "-", name.lower()).strip("-.+")
    if not text or not text[0].isalpha():
        text = "s3-" + text
    if text in ("file", "memory", "s3"):
        text += "-1"
    return text


@dataclass
class MountSpec:
    """One mount: a display ``name``, its ``kind`` and its root ``uri``.

    S3 mounts may carry connection settings; ``access_key``/``secret_key``
    are session-only unless ``use_keyring`` is set (and a keyring exists).
    """

    name: str
    uri: str
    kind: str = "local"
    endpoint_url: str = ""
    region_name: str = ""
    profile_name: str = ""
    scheme: str = ""
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    use_keyring: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def needs_scheme(self) -> bool:
        """True when this S3 mount needs its own registered scheme (custom endpoint or credentials)."""
        return self.kind == "s3" and bool(
            self.endpoint_url or self.region_name or self.profile_name or self.access_key or self.scheme
        )

    def s3_options(self) -> dict[str, Any]:
        """Options for ``storecore.register_scheme(..., "s3", **options)`` (keys included)."""
        opts: dict[str, Any] = {}
        if self.endpoint_url:
            opts["endpoint_url"] = self.endpoint_url
        if self.region_name:
            opts["region_name"] = self.region_name
        if self.profile_name:
            opts["profile_name"] = self.profile_name
        if self.access_key and self.secret_key:
            opts["aws_access_key_id"] = self.access_key
            opts["aws_secret_access_key"] = self.secret_key
        return opts

    def to_settings(self) -> dict[str, Any]:
        """What may be persisted: everything but the secret keys."""
        data = asdict(self)
        data.pop("secret_key")
        data.pop("missing_keys", None)
        # The key id is half of the secret pair: store it only where the keyring really keeps the secret.
        if not (self.use_keyring and keyring_available()):
            data.pop("access_key")
        data["has_keys"] = bool(self.access_key and self.secret_key)
        return data

    @classmethod
    def from_settings(cls, data: dict[str, Any]) -> MountSpec:
        """Rebuild a spec from :meth:`to_settings` output (unknown keys ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        clean = {k: v for k, v in data.items() if k in known}
        clean["use_keyring"] = str(clean.get("use_keyring", "false")).lower() in ("true", "1")
        spec = cls(**clean)
        spec.missing_keys = str(data.get("has_keys", "false")).lower() in ("true", "1") and not spec.secret_key
        return spec

    missing_keys: bool = field(default=False, repr=False, compare=False)


def register(spec: MountSpec) -> str:
    """Make ``spec`` reachable through storecore; return the URI the tree uses for its root.

    A custom S3 mount registers ``spec.scheme`` (derived from the name) and its
    root URI is rewritten onto that scheme: ``s3://bkt/x`` → ``name://bkt/x``.
    """
    import storecore

    if not spec.needs_scheme:
        return spec.uri
    if not spec.scheme:
        spec.scheme = scheme_name_for(spec.name)
    storecore.register_scheme(spec.scheme, "s3", **spec.s3_options())
    body = spec.uri.split("://", 1)[-1]
    spec.uri = f"{spec.scheme}://{body}"
    return spec.uri


def _keyring_user(spec: MountSpec) -> str:
    return f"mount:{spec.id}"


def save_secret(spec: MountSpec) -> bool:
    """Store the spec's keys in the system keyring (opt-in); False when impossible."""
    if not (spec.use_keyring and spec.secret_key and keyring_available()):
        return False
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, _keyring_user(spec), f"{spec.access_key}\n{spec.secret_key}")
    except Exception as e:  # noqa: BLE001 - a broken keyring backend must not break mounting
        log.warning("could not store keys in the keyring: %s", e)
        return False
    return True


def load_secret(spec: MountSpec) -> bool:
    """Fill the spec's keys from the keyring if it was opted in; True when found."""
    if not (spec.use_keyring and keyring_available()):
        return False
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, _keyring_user(spec))
    except Exception as e:  # noqa: BLE001
        log.warning("could not read keys from the keyring: %s", e)
        return False
    if not value or "\n" not in value:
        return False
    spec.access_key, spec.secret_key = value.split("\n", 1)
    spec.missing_keys = False
    return True


def delete_secret(spec: MountSpec) -> None:
    """Forget the spec's keys in the keyring (if any)."""
    if keyring_available():
        try:
            import keyring

            keyring.delete_password(KEYRING_SERVICE, _keyring_user(spec))
        except Exception as e:  # noqa: BLE001 - nothing stored, or a broken keyring: nothing to delete
            log.debug("no keys deleted from the keyring: %s", e)


def open_settings(path: str | None = None) -> QSettings:
    """The settings store: an INI file at ``path`` (tests, ``STORESCOPE_SETTINGS``) or the user's."""
    import os

    path = path or os.environ.get("STORESCOPE_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "storescope", "storescope")


class MountStore:
    """The saved mounts, kept in a QSettings group (array of specs)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings if settings is not None else open_settings()

    def load(self) -> list[MountSpec]:
        """The saved mounts in their saved order (keys restored from the keyring when opted in)."""
        s = self.settings
        specs: list[MountSpec] = []
        n = s.beginReadArray(SETTINGS_GROUP)
        try:
            for i in range(n):
                s.setArrayIndex(i)
                data = {k: s.value(k) for k in s.childKeys()}
                if not data.get("uri"):
                    continue
                with contextlib.suppress(TypeError, ValueError):
                    spec = MountSpec.from_settings({k: ("" if v is None else v) for k, v in data.items()})
                    load_secret(spec)
                    specs.append(spec)
        finally:
            s.endArray()
        return specs

    def save(self, specs: list[MountSpec]) -> None:
        """Replace the saved mounts with ``specs`` (secrets go to the keyring only when opted in)."""
        s = self.settings
        s.remove(SETTINGS_GROUP)
        s.beginWriteArray(SETTINGS_GROUP, len(specs))
        try:
            for i, spec in enumerate(specs):
                s.setArrayIndex(i)
                for key, value in spec.to_settings().items():
                    s.setValue(key, value)
                save_secret(spec)
        finally:
            s.endArray()
        s.sync()
