"""Small, valid media files made in pure Python, for the fake workers' outputs: PNG images
a glTF binary cube and a WAV tone."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import wave
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(seed: int, size: int = 192) -> bytes:
    """A gradient sky with a sun, its colours picked by `seed`."""
    hue = (seed * 0.173) % 1.0
    top = [int(255 * (0.5 + 0.5 * math.cos(2 * math.pi * (hue + k / 3)))) for k in range(3)]
    bottom = [int(c * 0.25) + 20 for c in reversed(top)]
    sun_x, sun_y, radius = size * (0.3 + 0.4 * ((seed * 37) % 10) / 10), size * 0.45, size * 0.16
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        t = y / (size - 1)
        base = [int(top[k] * (1 - t) + bottom[k] * t) for k in range(3)]
        for x in range(size):
            d = math.hypot(x - sun_x, y - sun_y)
            glow = max(0.0, 1 - d / radius) if y < size * 0.7 else 0.0
            pixel = [min(255, int(c + (255 - c) * glow)) for c in base]
            if y > size * 0.7:  # The ground.
                pixel = [int(c * 0.45) for c in base]
            rows += bytes(pixel)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_data_url(seed: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png(seed)).decode()


def glb_cube() -> bytes:
    """A unit cube as glTF 2.0 binary (positions and indices)."""
    corners = [(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    indices = [i for a, b, c, d in faces for i in (a, b, c, a, c, d)]
    positions = b"".join(struct.pack("<3f", *p) for p in corners)
    index_bytes = b"".join(struct.pack("<H", i) for i in indices)
    binary = positions + index_bytes + b"\0" * (-len(index_bytes) % 4)
    gltf = {
        "asset": {"version": "2.0", "generator": "kriptik-tests"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
                        {"buffer": 0, "byteOffset": len(positions), "byteLength": len(index_bytes)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 8, "type": "VEC3",
                       "min": [-0.5, -0.5, -0.5], "max": [0.5, 0.5, 0.5]},
                      {"bufferView": 1, "componentType": 5123, "count": len(indices), "type": "SCALAR"}],
    }  # fmt: skip
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = (
        struct.pack("<I4s", len(text), b"JSON")
        + text
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def wav_bytes(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    """A real 16-bit mono WAV: a 440 Hz tone, as a speech model's client would upload."""
    frames = b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()
