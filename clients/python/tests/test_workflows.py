"""Every workflow dispatched and run to completion through ``run()`` (sync), a few at once
through ``AsyncFigur``, and the finished images saved; uploads of every kind."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from figur import AsyncFigur, Figur, FigurError, JobFailed, models
from figur._calls import WORKFLOWS

from .conftest import Studio, noise_png, photo

SHIRT_CATEGORY = "01JGC0GARMENTCATEG0RY00003"
BUILTIN_BACKGROUND = "01JBG0BACKGR0VND0000000005"


def crop_png(size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.open(photo("astronaut.png")).convert("RGB").crop((180, 60, 180 + size[0], 60 + size[1]))


def bodies(figur: Figur) -> dict[str, Any]:
    half = figur.upload(photo("astronaut.png")).upload_key
    full = figur.upload(photo("messi5.jpg")).upload_key
    model = figur.add_catalog_model({"upload_key": full, "display_name": "Full-body sample"}).public_id
    crop = figur.upload(crop_png()).upload_key
    top = {"trial_image": full, "trial_item_category": "top"}
    return {
        "try-on": models.TryOnRequest(user_image=half, items=[models.TryOnItem(**top)]),
        "extract": {"trial_image": half, "extraction_context": {"max_items": 2}},
        "look": {"items": [top]},
        "model-generator": {"gender": "FEMALE", "ethnicity": "", "body_type": "athletic", "age_range": "25-34",
                            "resolution": "0.5K", "seed": 1},
        "background-generator": {"scene_type": "raw concrete loft", "mood": "calm", "resolution": "0.5K", "seed": 1},
        "complementary-garment-generator": {"garment_category_public_id": SHIRT_CATEGORY, "color": "sky",
                                            "material": "cotton", "pattern": "stripes", "resolution": "0.5K"},
        "product-to-model-direct": {"product_image_s3_key": half, "product_garment_category_public_id": SHIRT_CATEGORY,
                                    "model_image_public_id": model},
        "product-to-model-phased": {"product_image_s3_key": half, "product_garment_category_public_id": SHIRT_CATEGORY,
                                    "model_image_public_id": model},
        "background-swap-with-image": {"source_image_s3_key": half, "output_preset": "original",
                                       "background_image_public_id": BUILTIN_BACKGROUND},
        "background-swap-with-spec": {"source_image_s3_key": half, "output_preset": "original",
                                      "scene_type": "studio", "mood": "soft"},
        "model-swap-with-image": {"source_image_s3_key": half, "output_preset": "original",
                                  "model_image_public_id": model},
        "upscale": {"source_image_s3_key": crop, "scale": 2},
    }


def test_every_workflow_runs_to_completion_and_its_images_save(figur: Figur, tmp_path: Path) -> None:
    requests = bodies(figur)
    assert sorted(requests) == sorted(WORKFLOWS), "a body for every workflow"
    for workflow, body in requests.items():
        seen: list[models.JobEvent] = []
        done = figur.run(workflow, body, on_event=seen.append, timeout=300)
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1)), f"{workflow}: every event once, in order"
        assert seen[-1].event_type == "succeeded" and done.events == seen
        assert done.artifacts, workflow
        saved = done.save(tmp_path / workflow)
        assert saved and all(p.stat().st_size > 0 for p in saved)
        first = Image.open(saved[0])
        assert first.size == (done.artifacts[0].meta.width, done.artifacts[0].meta.height)
        filed = workflow not in ("model-generator", "background-generator", "complementary-garment-generator")
        assert (done.render is not None) == filed, f"{workflow}: renders are filed by compose and edit workflows"
        if workflow == "upscale":
            assert first.size == (128, 96)
            assert done.extra["provenance"]["upscale"]["model"] == "realesrgan-x4plus"


def test_the_typed_methods_dispatch_and_async_runs_follow_concurrent_jobs(studio: Studio, figur: Figur) -> None:
    accepted = figur.background_generator({"scene_type": "paper", "mood": "warm", "resolution": "0.5K", "seed": 3})
    assert accepted.status == "NOT_STARTED" and accepted.credits_cost == 5

    async def both() -> list[Any]:
        async with AsyncFigur(studio.base_url, studio.key) as client:
            runs = [
                client.run("background-generator", {"scene_type": s, "mood": "soft", "resolution": "0.5K", "seed": n})
                for n, s in enumerate(["paper", "linen", "gradient", "concrete"])
            ]
            finished = await asyncio.gather(*runs)
            images = await finished[0].images()
            assert images[0][:8] == b"\x89PNG\r\n\x1a\n"
            return list(finished)

    for done in asyncio.run(both()):
        assert [e.seq for e in done.events] == list(range(1, len(done.events) + 1))


def test_uploads_of_every_kind(figur: Figur, tmp_path: Path) -> None:
    path = photo("astronaut.png")
    by_path = figur.upload(path)
    by_str = figur.upload(str(path))
    with open(path, "rb") as f:
        by_file = figur.upload(f)
    by_bytes = figur.upload(path.read_bytes(), "astronaut.png")
    by_image = figur.upload(Image.open(path))
    assert {by_path.sha256, by_str.sha256, by_file.sha256, by_bytes.sha256} == {by_path.sha256}
    assert (by_image.width, by_image.height, by_image.mime) == (512, 512, "image/png")
    buffer = io.BytesIO(noise_png())
    assert figur.upload(buffer, "noise.png").width == 64

    with pytest.raises(FigurError) as bad:
        figur.upload(b"this is not an image", "notes.txt")
    assert bad.value.status in (415, 422) and bad.value.code in ("UNSUPPORTED_MEDIA_TYPE", "VALIDATION_ERROR")
    with pytest.raises(FigurError) as missing:
        figur.upload(tmp_path / "nowhere.png")
    assert missing.value.code == "BAD_INPUT" and "nowhere.png" in missing.value.message


def test_a_failed_job_raises_with_its_code(figur: Figur) -> None:
    noise = figur.upload(noise_png(), "noise.png").upload_key
    with pytest.raises(JobFailed) as failed:
        figur.run("extract", {"trial_image": noise})
    assert failed.value.code == "NO_SUBJECT_FOUND" and failed.value.job_id
    assert failed.value.event["event_type"] == "failed"
