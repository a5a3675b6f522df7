"""The Python client of the Figur ``/v1`` API — a local Figur Studio or the hosted API, with
only the base URL and key changed.

    from figur import Figur

    figur = Figur("http://127.0.0.1:8686", "sk_live_…")
    photo = figur.upload("me.jpg")
    done = figur.run("background-swap-with-spec", {"source_image_s3_key": photo.upload_key,
                     "output_preset": "original", "scene_type": "studio", "mood": "soft"})
    done.save("out/")
"""

from . import models, webhooks
from ._async import AsyncFigur
from ._sync import Figur
from .errors import FigurError, JobFailed
from .results import AsyncRunResult, RunResult

__all__ = ["AsyncFigur", "AsyncRunResult", "Figur", "FigurError", "JobFailed", "RunResult", "models", "webhooks"]
__version__ = "0.1.0"
