"""The rest of the surface, once each, through the typed methods: steering a queued job (on a
studio that queues without running), variations, the library, the catalog and the account."""

from __future__ import annotations

from figur import Figur, JobFailed, models

from .conftest import Studio, photo

BACKDROP = {"scene_type": "paper", "mood": "soft", "resolution": "0.5K"}


def test_steering_a_queued_job() -> None:
    studio = Studio("--paused")
    try:
        with studio.client() as figur:
            first = figur.background_generator({**BACKDROP, "seed": 1}).job_id
            second = figur.background_generator({**BACKDROP, "seed": 2}).job_id
            assert figur.priority(second, 50).priority == 50
            assert [j.public_id for j in figur.queue().jobs][:2] == [second, first], "the higher priority first"
            assert figur.pause(first).paused and not figur.resume(first).paused
            figur.cancel(first)
            try:
                list(figur.events(first))
            except JobFailed:
                pass
            last = figur.job(first).latest_event
            assert last is not None and last.extra["error"]["code"] == "JOB_CANCELLED"
            assert figur.jobs(status="FAILURE").jobs[0].public_id == first
    finally:
        studio.stop()


def test_variations_library_catalog_and_account(figur: Figur) -> None:
    done = figur.run("background-generator", {**BACKDROP, "seed": 11})
    varied = figur.vary(done.job_id, 2)
    assert len(varied.jobs) == 2 and all(j.job_id != done.job_id for j in varied.jobs)

    key = figur.upload(photo("astronaut.png"), "astronaut-tagged.png").upload_key
    edited = figur.edit_upload(key, tags=["Studio A", "portrait"], favourite=True)
    assert edited.favourite and sorted(edited.tags) == ["portrait", "studio a"]
    assert any(u.upload_key == key for u in figur.uploads(tag="portrait", favourite=True).uploads)
    assert any(t.tag == "portrait" for t in figur.tags())

    backgrounds = figur.catalog("backgrounds")
    assert backgrounds and figur.catalog_entry("backgrounds", backgrounds[0].public_id).public_id == backgrounds[0].public_id
    categories = figur.garment_categories()
    shirt = next(c for c in categories if c.key == "shirt")
    check = figur.compatibility(
        models.CompatibilityRequest(product_garment_category_public_id=shirt.public_id,
                                    candidate_complementary_image_public_ids=[])
    )
    assert (check.product_garment_category_public_id, check.results) == (shirt.public_id, [])
    assert isinstance(figur.catalog_models(), list)
    assert figur.webhooks(done.job_id).state == "none"

    assert figur.health().status == "ok"
    assert {o.name for o in figur.operations().operations} >= {"try-on", "upscale"}
    assert figur.openapi()["openapi"].startswith("3.1")
    assert any(u.kind == "debit" for u in figur.usage(limit=5).usage)
    assert figur.credits().currency == "credits"
    assert 'figur_dispatches_total{outcome="accepted",workflow="background-generator"}' in figur.metrics()
