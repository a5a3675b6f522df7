"""What ``run`` returns: the finished job's final images (downloadable), its render and extra."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from . import models as m

if TYPE_CHECKING:
    from ._async import AsyncFigur
    from ._sync import Figur

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def _file_name(job_id: str, n: int, artifact: m.Artifact) -> str:
    return f"{job_id}-{n}-{artifact.kind}{_EXTENSIONS.get(artifact.meta.mime, '.bin')}"


@dataclasses.dataclass
class _Finished:
    job_id: str
    #: The final artifacts, the render's picture first for workflows that file one.
    artifacts: list[m.Artifact]
    #: The gallery render (compose and edit workflows), else ``None``.
    render: Optional[m.Render]
    #: The ``succeeded`` event's extra: seed, provenance, catalog ids…
    extra: dict[str, Any]
    #: Every event of the job, in order.
    events: list[m.JobEvent]


@dataclasses.dataclass
class RunResult(_Finished):
    _client: "Figur" = dataclasses.field(repr=False, default=None)  # type: ignore[assignment]

    def images(self) -> list[bytes]:
        """The final images' bytes, in order."""
        return [self._client.download(a.image_url) for a in self.artifacts]

    def save(self, folder: Union[str, "os.PathLike[str]"]) -> list[Path]:
        """Writes every final image into ``folder`` (made if missing); their paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for n, artifact in enumerate(self.artifacts):
            path = out / _file_name(self.job_id, n, artifact)
            path.write_bytes(self._client.download(artifact.image_url))
            paths.append(path)
        return paths


@dataclasses.dataclass
class AsyncRunResult(_Finished):
    _client: "AsyncFigur" = dataclasses.field(repr=False, default=None)  # type: ignore[assignment]

    async def images(self) -> list[bytes]:
        return [await self._client.download(a.image_url) for a in self.artifacts]

    async def save(self, folder: Union[str, "os.PathLike[str]"]) -> list[Path]:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for n, artifact in enumerate(self.artifacts):
            path = out / _file_name(self.job_id, n, artifact)
            path.write_bytes(await self._client.download(artifact.image_url))
            paths.append(path)
        return paths
