"""Small ICC profiles built byte by byte, for tests (no profile files ship with the system)."""

import itertools
import struct
from collections.abc import Sequence

import numpy as np

#: The profile connection space's white, which every ICC profile's colours are relative to.
D50 = (0.9642, 1.0, 0.8249)
COPYRIGHT = b"text\0\0\0\0test\0"
Chromaticity = tuple[float, float]


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: Sequence[float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _desc(text: str) -> bytes:
    """A v2 ``textDescriptionType``: the ASCII name, then empty Unicode and Mac names."""
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + b"\0" * 67
    )


def _profile(kind: bytes, space: bytes, pcs: bytes, tags: dict[bytes, bytes]) -> bytes:
    """A v2.1 profile: the 128-byte header, the tag table, then each tag on a 4-byte boundary."""
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, body = b"", b""
    for sig, data in tags.items():
        data += b"\0" * (-len(data) % 4)
        entries += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + kind
        + space
        + pcs
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in D50)
        + b"\0" * 48
    )
    assert len(header) == 128, len(header)
    return header + struct.pack(">I", len(tags)) + entries + body


_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _colourants(primaries: Sequence[Chromaticity], white: Chromaticity) -> np.ndarray:
    """Each primary's XYZ, adapted from the white point to D50 (Bradford), as ICC wants."""

    def xyz(x: float, y: float) -> np.ndarray:
        return np.array([x / y, 1.0, (1 - x - y) / y])

    m = np.column_stack([xyz(*p) for p in primaries])
    w = xyz(*white)
    m = m * np.linalg.solve(m, w)
    cone = _BRADFORD @ np.array(D50) / (_BRADFORD @ w)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone) @ _BRADFORD
    return (adapt @ m).T


def rgb_profile(
    name: str,
    primaries: Sequence[Chromaticity],
    white: Chromaticity = (0.3127, 0.3290),
    gamma: float | None = None,
) -> bytes:
    """A matrix/TRC RGB display profile; the sRGB tone curve unless ``gamma`` is given."""
    if gamma is None:
        params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
        curve = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)
    else:
        curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    red, green, blue = _colourants(primaries, white)
    tags = {b"desc": _desc(name), b"wtpt": _xyz(D50), b"cprt": COPYRIGHT}
    tags |= {b"rXYZ": _xyz(red), b"gXYZ": _xyz(green), b"bXYZ": _xyz(blue)}
    tags |= {b"rTRC": curve, b"gTRC": curve, b"bTRC": curve}
    return _profile(b"mntr", b"RGB ", b"XYZ ", tags)


DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_RGB = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
SRGB = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))


#: The Lab colour of paper under each ink at full strength, for ``cmyk_profile``.
INKS = {"c": (55.0, -37.0, -50.0), "m": (48.0, 74.0, -3.0), "y": (89.0, -5.0, 93.0)}


def _lab_of_corner(cyan: int, magenta: int, yellow: int, black: int) -> tuple[float, ...]:
    """A corner of the CMYK cube in Lab: inks darken each other and average their hue."""
    if black:
        return (0.0, 0.0, 0.0)
    inks = [INKS[name] for name, on in zip("cmy", (cyan, magenta, yellow), strict=True) if on]
    if not inks:
        return (100.0, 0.0, 0.0)
    lightness = 100.0
    for ink in inks:
        lightness *= ink[0] / 100
    return (lightness, *(sum(ink[i] for ink in inks) / len(inks) for i in (1, 2)))


def cmyk_profile(name: str = "Test press CMYK") -> bytes:
    """A crude press profile: the Lab colour of each corner of the ink cube (an ``mft1`` LUT)."""
    clut = b""
    for corner in itertools.product((0, 1), repeat=4):
        light, a, b = _lab_of_corner(*corner)
        clut += bytes([round(light * 255 / 100), round(a + 128), round(b + 128)])
    identity = bytes(range(256))
    lut = (
        b"mft1\0\0\0\0"
        + bytes([4, 3, 2, 0])  # four inputs, three outputs, two grid points, padding
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + identity * 4
        + clut
        + identity * 3
    )
    tags = {b"desc": _desc(name), b"wtpt": _xyz(D50), b"cprt": COPYRIGHT, b"A2B0": lut}
    return _profile(b"prtr", b"CMYK", b"Lab ", tags)
