"""Real `figur serve` processes for the client's tests: started here on free loopback ports over
temporary data folders (``FIGUR_BIN`` is the studio's binary; ``FIGUR_CACHE_DIR`` its models;
``FIGUR_TEST_PHOTOS`` the sample photos), stopped at the end."""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from figur import Figur


class Studio:
    def __init__(self, *args: str) -> None:
        self.dir = tempfile.TemporaryDirectory()
        binary = os.environ["FIGUR_BIN"]
        env = {**os.environ, "FIGUR_LOG": "warn"}
        self.log = open(Path(self.dir.name) / "server.log", "wb")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.dir.name, *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        lines: "queue.Queue[bytes]" = queue.Queue()
        assert self.process.stdout is not None
        out = self.process.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in out], daemon=True).start()
        try:
            first = lines.get(timeout=60).decode()
        except queue.Empty:
            self.stop()
            raise RuntimeError("figur serve said nothing in a minute: " + self.log_text())
        self.base_url = next(w for w in first.split() if w.startswith("http://"))
        self.key = (Path(self.dir.name) / "first-key.txt").read_text().strip()

    def client(self, **options: object) -> Figur:
        return Figur(self.base_url, self.key, **options)  # type: ignore[arg-type]

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [os.environ["FIGUR_BIN"], *args, "--data-dir", self.dir.name], capture_output=True, check=True
        )
        return out.stdout.decode().strip()

    def log_text(self) -> str:
        self.log.flush()
        return (Path(self.dir.name) / "server.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def studio() -> Iterator[Studio]:
    s = Studio()
    yield s
    s.stop()


@pytest.fixture()
def figur(studio: Studio) -> Iterator[Figur]:
    with studio.client() as client:
        yield client


def photo(name: str) -> Path:
    return Path(os.environ["FIGUR_TEST_PHOTOS"]) / name


def noise_png(width: int = 64, height: int = 64, seed: Optional[int] = 7) -> bytes:
    """Random pixels as a PNG (Pillow): a photo with nothing in it."""
    import io
    import random

    from PIL import Image

    rng = random.Random(seed)
    img = Image.frombytes("RGB", (width, height), bytes(rng.randrange(256) for _ in range(width * height * 3)))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
