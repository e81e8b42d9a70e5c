"""The Hub fake's data model: a repo is files plus flags. Weight files are virtual: a
safetensors file holds its real header bytes (u64 little-endian length, JSON, space
padding to 8 bytes) and reports its full size; bytes past the header read as zero."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
    "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip


@dataclass(frozen=True)
class Tensor:
    """One tensor of a safetensors file: its name, dtype and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


def safetensors_header(tensors: list[Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The first bytes of a safetensors file: length prefix plus the padded JSON header."""
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for t in tensors:
        header[t.name] = {
            "dtype": t.dtype,
            "shape": list(t.shape),
            "data_offsets": [offset, offset + t.nbytes],
        }
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # The format pads the header to 8-byte alignment.
    return struct.pack("<Q", len(raw)) + raw


@dataclass
class HubFile:
    """A file in a repo. `content` is its leading bytes; `size` its full length."""

    path: str
    content: bytes = b""
    size: int = -1
    lfs: bool = False
    tensors: list[Tensor] = field(default_factory=list[Tensor])

    def __post_init__(self) -> None:
        self.size = max(self.size, len(self.content))

    @property
    def sha1(self) -> str:
        return hashlib.sha1(b"blob %d\0" % self.size + self.content).hexdigest()  # noqa: S324

    @property
    def sha256(self) -> str:
        return hashlib.sha256(
            self.path.encode() + self.content + str(self.size).encode()
        ).hexdigest()

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end] inclusive; past `content` the file reads as zeros."""
        end = min(end, self.size - 1)
        head = self.content[start : end + 1]
        return head + b"\0" * max(0, end + 1 - max(start, len(self.content)))

    @classmethod
    def text(cls, path: str, text: str) -> HubFile:
        return cls(path, text.encode())

    @classmethod
    def json(cls, path: str, data: Any) -> HubFile:
        return cls(path, json.dumps(data, indent=2).encode())

    @classmethod
    def safetensors(
        cls, path: str, tensors: list[Tensor], metadata: dict[str, str] | None = None
    ) -> HubFile:
        header = safetensors_header(tensors, metadata)
        return cls(
            path, header, len(header) + sum(t.nbytes for t in tensors), lfs=True, tensors=tensors
        )

    @classmethod
    def blob(cls, path: str, size: int) -> HubFile:
        """An opaque large file (a .bin, .gguf, .pth), all zeros."""
        return cls(path, b"", size, lfs=True)


@dataclass
class HubRepo:
    """A model repo on the fake Hub."""

    repo_id: str
    files: dict[str, HubFile] = field(default_factory=dict[str, HubFile])
    gated: Literal[False, "auto", "manual"] = False
    private: bool = False
    pipeline_tag: str | None = "text-generation"
    library_name: str | None = "transformers"
    tags: list[str] = field(default_factory=list[str])
    card_data: dict[str, Any] = field(default_factory=lambda: {"license": "apache-2.0"})

    def add(self, *files: HubFile) -> HubRepo:
        for f in files:
            self.files[f.path] = f
        return self

    @property
    def sha(self) -> str:
        digest = hashlib.sha1(self.repo_id.encode())  # noqa: S324
        for path in sorted(self.files):
            digest.update(path.encode() + self.files[path].sha1.encode())
        return digest.hexdigest()

    def safetensors_parameters(self) -> dict[str, int]:
        """Parameter count per dtype over the root safetensors weights, as the Hub reports."""
        counts: dict[str, int] = {}
        for path, f in self.files.items():
            if "/" not in path and path.endswith(".safetensors"):
                for t in f.tensors:
                    counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
        return counts
