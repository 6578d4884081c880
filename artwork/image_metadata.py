"""What an artwork file says besides its picture, taken out without touching the picture.

An upload is served to every client at a public URL, as stored. A phone's or a
camera's EXIF says where the picture was taken (GPS) and with what; a design
tool's XMP, comments and PNG text name the designer and the path of the file on
their machine. None of it is for screens, and none of it changes a pixel, so it
is cut out of the file's structure: the coded picture (a JPEG's scans, a PNG's
IDAT, a WebP's bitstream) is copied as it is, never decoded and encoded again.
Kept: what says how to draw the pixels (a JPEG's JFIF and Adobe segments, an ICC
profile, a PNG's gamma and chromaticities, a WebP's alpha), and nothing else: tools
carry metadata in segments and chunks of their own, so one not known to draw pixels
is cut, whatever its name. Bytes after the end of the picture (a JPEG's or PNG's
trailer, a phone's appended video) go too.

A file whose structure is not what its format says is returned unchanged: the
upload's checks, which decode every pixel, judge it.
"""

from __future__ import annotations

import struct

#: JPEG application segments kept: JFIF (APP0), an ICC profile (APP2, so named) and Adobe's
#: colour transform (APP14). Every other one and COM is metadata, whoever wrote it: EXIF and
#: XMP (APP1), IPTC (APP13), Photoshop's "Ducky" comment and copyright (APP12), makers' own.
_JPEG_APP0, _JPEG_APP2, _JPEG_APP14, _JPEG_COM = 0xE0, 0xE2, 0xEE, 0xFE
_JPEG_ICC = b"ICC_PROFILE\x00"
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
#: JPEG markers without a length after them: TEM, and the restart markers RST0 to RST7.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG ancillary chunks kept: how to draw the pixels (transparency, colour space, gamma,
#: significant bits, background, pixel shape) and an APNG's frames. Critical chunks (a
#: capital first letter) are the picture, always kept; every other ancillary one is
#: metadata: EXIF, text (XMP rides in an iTXt), the time it was saved, an editor's private
#: chunks (Adobe Fireworks keeps its editable document in some).
_PNG_KEPT = set(b"tRNS gAMA cHRM sRGB iCCP sBIT cICP mDCv cLLi bKGD pHYs acTL fcTL fdAT".split())
#: WebP chunks kept: the picture (VP8, VP8L, its alpha), the extended header, the colour
#: profile, an animation's. Every other one (EXIF, XMP, a tool's own) is metadata.
_WEBP_KEPT = {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"}
#: VP8X header flags saying an EXIF or an XMP chunk follows.
_WEBP_EXIF_XMP_FLAGS = 0x08 | 0x04


def without_metadata(data: bytes, fmt: str) -> bytes:
    """``data`` (a file of Pillow's format ``fmt``) without its metadata; the same bytes
    when it has none, or when its structure cannot be followed."""
    strip = {"JPEG": _jpeg, "PNG": _png, "WEBP": _webp}.get(fmt)
    if strip is None:
        return data
    try:
        return strip(data)
    except (IndexError, struct.error, ValueError):
        return data


def _jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        return data
    kept, at = [data[:2]], 2
    while at < len(data):
        if data[at] != 0xFF:
            return data
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _JPEG_EOI:
            kept.append(data[at : at + 2])
            return b"".join(kept)
        if marker in _JPEG_STANDALONE:
            kept.append(data[at : at + 2])
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2:
            return data
        end = at + 2 + length
        if marker == _JPEG_SOS:
            end = _jpeg_scan_end(data, end)
        segment = data[at:end]
        if _jpeg_segment_kept(marker, segment):
            kept.append(segment)
        at = end
    return data


def _jpeg_segment_kept(marker: int, segment: bytes) -> bool:
    """Whether a JPEG segment (from its marker) says how to draw the picture."""
    if marker == _JPEG_COM:
        return False
    if not _JPEG_APP0 <= marker <= _JPEG_APP0 + 15:
        return True  # tables, the frame, the scans: the picture itself
    if marker == _JPEG_APP2:
        return segment[4 : 4 + len(_JPEG_ICC)] == _JPEG_ICC
    return marker in (_JPEG_APP0, _JPEG_APP14)


def _jpeg_scan_end(data: bytes, at: int) -> int:
    """Where the coded data of a scan, from ``at``, ends: at the first marker not a restart.

    Followed marker by marker, not by looking for the end-of-picture marker: a
    progressive JPEG's later scans come after segments (tables, a comment, EXIF) whose
    bytes may hold 0xFF 0xD9, and which are metadata to cut when they are. In coded data
    an 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; ``ValueError`` or
    ``IndexError`` when the data ends first.
    """
    while True:
        at = data.index(b"\xff", at)
        following = data[at + 1]
        if following != 0 and following not in _JPEG_STANDALONE:
            return at
        at += 2


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        return data
    kept, at = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        end = at + 12 + length
        if end > len(data):
            return data
        if not kind[0] & 0x20 or kind in _PNG_KEPT:
            kept.append(data[at:end])
        at = end
        if kind == b"IEND":
            return b"".join(kept)
    return data


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    (size,) = struct.unpack("<I", data[4:8])
    end = min(8 + size, len(data))
    kept, at = [], 12
    while at + 8 <= end:
        kind, length = struct.unpack("<4sI", data[at : at + 8])
        stop = at + 8 + length + (length & 1)
        if at + 8 + length > end:
            return data
        chunk = data[at:stop]
        if kind == b"VP8X":
            flags = chunk[8] & ~_WEBP_EXIF_XMP_FLAGS
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind in _WEBP_KEPT:
            kept.append(chunk)
        at = stop
    body = b"WEBP" + b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body
