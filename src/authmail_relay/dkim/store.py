"""DKIM keys on disk: ``<DKIM_KEYS_DIR>/<domain>/<selector>.<algorithm>.key``.

Directories are created mode 0700 and key files mode 0600; a file is written under a
temporary name and then linked (or, with ``force``, renamed) into place, so a crash
never leaves half a key behind and an existing selector is never replaced by accident.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigurationError, ConflictError, ValidationError
from ..file_modes import private_dir, write_private
from .keys import ALGORITHMS, Algorithm, DkimKey, check_domain, key_from_private

SUFFIX = ".key"


@dataclass(frozen=True)
class StoredKey:
    """A key and where it lives; ``loose`` when the file is readable by others."""

    key: DkimKey
    path: Path
    mode: int

    @property
    def loose(self) -> bool:
        return bool(self.mode & 0o077)


class KeyStore:
    """The keys directory. Reading a missing directory finds no keys."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, domain: str, selector: str, algorithm: Algorithm) -> Path:
        return self.root / domain / f"{selector}.{algorithm}{SUFFIX}"

    def existing(self, domain: str, selector: str) -> list[Path]:
        """Files already holding ``selector`` of ``domain``, in any algorithm."""
        return [p for a in ALGORITHMS if (p := self.path_for(domain, selector, a)).exists()]

    def check_free(self, domain: str, selectors: list[str]) -> None:
        """ConflictError if any of ``selectors`` of ``domain`` already has a key."""
        for selector in selectors:
            if taken := self.existing(domain, selector):
                raise ConflictError(
                    f"selector {selector} of {domain} already exists ({taken[0]}); "
                    "use --force to replace it, or choose another --selector",
                    error_code="dkim_selector_exists",
                )

    def save(self, keys: list[DkimKey], *, force: bool = False) -> list[Path]:
        """Write ``keys``; unless ``force``, refuse (ConflictError, nothing written) when
        any of their selectors already exists."""
        if not force:
            for key in keys:
                self.check_free(key.domain, [key.selector])
        paths = []
        private_dir(self.root)
        for key in keys:
            folder = self.root / key.domain
            private_dir(folder)
            path = self.path_for(key.domain, key.selector, key.algorithm)
            try:
                write_private(path, key.private, replace=force)
            except FileExistsError:
                raise ConflictError(
                    f"{path} appeared while writing; nothing was replaced",
                    error_code="dkim_selector_exists",
                ) from None
            paths.append(path)
        return paths

    def entries(self, domain: str | None = None) -> list[StoredKey]:
        """Every key (or those of ``domain``), sorted by domain, selector and algorithm.

        Raises ConfigurationError naming the first file that is not a usable key.
        """
        found = []
        if not self.root.is_dir():
            return []
        folders = [self.root / domain] if domain else sorted(self.root.iterdir())
        for folder in (f for f in folders if f.is_dir()):
            try:
                name = check_domain(folder.name)
            except ValidationError:
                continue  # not a domain folder; leave other people's files alone
            for path in sorted(folder.glob(f"*{SUFFIX}")):
                stem = path.name.removesuffix(SUFFIX)
                selector, _, algorithm = stem.rpartition(".")
                if algorithm not in ALGORITHMS or not selector:
                    continue
                try:
                    data = path.read_bytes()
                    mode = stat.S_IMODE(path.stat().st_mode)
                except OSError as exc:
                    raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
                key = key_from_private(name, selector, algorithm, data)
                found.append(StoredKey(key, path, mode))
        return found

    def keys(self, domain: str | None = None) -> list[DkimKey]:
        """The keys alone (see :meth:`entries`)."""
        return [entry.key for entry in self.entries(domain)]
