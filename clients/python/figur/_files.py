"""What ``upload`` accepts, read into bytes with a file name: a path, bytes, a binary file, or a
PIL image (saved as PNG; Pillow is optional)."""

from __future__ import annotations

import io
import os
from typing import IO, Any, Optional, Union

from .errors import FigurError

#: A file to upload.
Uploadable = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes], Any]


def read(file: Uploadable, name: Optional[str]) -> tuple[str, bytes]:
    if isinstance(file, (bytes, bytearray)):
        return name or "image", bytes(file)
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        try:
            with open(path, "rb") as f:
                return name or os.path.basename(path), f.read()
        except OSError as e:
            raise FigurError("BAD_INPUT", f"cannot read {path}: {e.strerror or e}") from e
    if hasattr(file, "save") and hasattr(file, "mode") and hasattr(file, "size"):
        # A PIL image: its pixels as a PNG.
        buffer = io.BytesIO()
        file.save(buffer, format="PNG")
        return name or "image.png", buffer.getvalue()
    if hasattr(file, "read"):
        data = file.read()
        if not isinstance(data, (bytes, bytearray)):
            raise FigurError("BAD_INPUT", "an upload's file must be opened in binary mode ('rb')")
        return name or os.path.basename(str(getattr(file, "name", "image"))), bytes(data)
    raise FigurError("BAD_INPUT", f"cannot upload a {type(file).__name__}: give a path, bytes, a binary file or a PIL image")
