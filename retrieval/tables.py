"""Columnar storage for the index: strings and records read on demand from mapped files.

A request touches a few dozen passages and sentences. Reading them from
memory-mapped files, instead of building a Python object for every record of
the corpus at load time, keeps load time and memory flat as the corpus grows,
and lets several server processes share one copy of the index in the page cache.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar, overload

import numpy as np

T = TypeVar("T")


def write_strings(stem: Path, strings: Iterable[str]) -> int:
    """Write strings back to back as UTF-8 (stem.bin) with byte offsets (stem.offsets.npy).

    Returns how many strings were written.
    """
    offsets = [0]
    with open(stem.with_suffix(".bin"), "wb") as blob:
        for text in strings:
            data = text.encode("utf-8")
            blob.write(data)
            offsets.append(offsets[-1] + len(data))
    np.save(stem.with_suffix(".offsets.npy"), np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


class StringTable(Sequence[str]):
    """The strings written by `write_strings`, decoded one at a time on access."""

    def __init__(self, stem: Path) -> None:
        # A plain ndarray view of the mapping: np.memmap's per-access bookkeeping is slow.
        self._offsets = np.load(
            stem.with_suffix(".offsets.npy"), mmap_mode="r", allow_pickle=False
        ).view(np.ndarray)
        if self._offsets.ndim != 1 or len(self._offsets) == 0:
            raise ValueError(f"{stem.name}: malformed offsets")
        path = stem.with_suffix(".bin")
        size = path.stat().st_size
        if int(self._offsets[-1]) != size:
            raise ValueError(f"{path.name}: {size} bytes, offsets expect {int(self._offsets[-1])}")
        if size:
            with open(path, "rb") as handle:
                self._blob: mmap.mmap | bytes = mmap.mmap(
                    handle.fileno(), 0, access=mmap.ACCESS_READ
                )
        else:
            self._blob = b""

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start, end = self._offsets[i : i + 2].tolist()
        return self._blob[start:end].decode("utf-8")


class LazyRows(Sequence[T]):
    """A read-only sequence whose items are built on access by `make(i)`."""

    def __init__(self, length: int, make: Callable[[int], T]) -> None:
        self._length = length
        self._make = make

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(self._length))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(i)
        return self._make(i)

    def __iter__(self) -> Iterator[T]:
        return (self._make(i) for i in range(self._length))
