"""Where an uploaded artwork image is stored: a name made of its content and its real format."""

from __future__ import annotations

import hashlib
import posixpath
import re
import uuid

from django.core.files import File
from PIL import Image, UnidentifiedImageError

#: The storage folder of uploaded artwork images (served: ``config.urls.ARTWORK_MEDIA_DIR``).
ARTWORK_DIR = "artwork"
#: Hex digits of the SHA-256 kept in a name: 128 bits, unguessable and collision-free.
DIGEST_CHARS = 32
#: The extension each accepted format is stored under (what sets its Content-Type).
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
#: A stored name that holds one picture for good: a digest (or, without the upload's bytes,
#: a random name of as many hex digits), with the suffix a storage adds to a name it holds
#: already (the same bytes stored again: ``Storage.get_available_name``), and optionally a
#: device class: its copy (``artwork.renditions``), whose bytes follow from the image's.
_NAMED_FOR_GOOD = re.compile(
    rf"[0-9a-f]{{{DIGEST_CHARS}}}(?:_[0-9A-Za-z]{{7}})?(?:\.(?:tv|mobile|tablet|web))?"
    r"\.(?:jpg|jpeg|png|webp)"
)


def artwork_name_is_fixed(name: str) -> bool:
    """Whether the file at ``name`` (a path under the artwork folder) can never change.

    True of every name :func:`artwork_image_name` gives: another picture gets another
    name, and a name is never given twice to other bytes; and of its copies' names,
    each made once from those bytes. Not of other names (the demo's
    shared pool, names given before uploads were named so), under which a file written
    after the old one was pruned may hold other bytes.
    """
    return _NAMED_FOR_GOOD.fullmatch(posixpath.basename(name)) is not None


def artwork_image_name(*, title_id: int, filename: str, file: File | None) -> str:
    """``artwork/<title id>/<content digest>.<extension of the decoded format>``.

    Why not the designer's file name: a storage that overwrites a taken name (an
    object store's default) gave a replaced picture the old one's URL, which
    clients and CDNs had cached for the old picture; a PNG saved as ``poster.jpg``
    was served as ``image/jpeg``, which some TV decoders believe; and a frame
    uploaded before its title's release was at a URL anyone could guess from its
    name. A name made of the bytes changes with every picture, cannot be guessed
    without them, and carries the format Pillow decoded. Without the upload's bytes
    (``file`` None) the name is random, with the file name's extension.
    """
    _, extension = posixpath.splitext(filename)
    if file is None:
        return f"{ARTWORK_DIR}/{title_id}/{uuid.uuid4().hex}{extension.lower()}"
    position = file.tell()
    try:
        file.seek(0)
        digest = hashlib.sha256()
        for chunk in file.chunks():
            digest.update(chunk)
        file.seek(0)
        try:
            with Image.open(file) as image:
                extension = "." + EXTENSIONS.get(image.format or "", extension.lstrip(".").lower())
        except (UnidentifiedImageError, OSError):
            pass  # the validator has refused it already; keep the name's extension
    finally:
        file.seek(position)
    return f"{ARTWORK_DIR}/{title_id}/{digest.hexdigest()[:DIGEST_CHARS]}{extension}"
