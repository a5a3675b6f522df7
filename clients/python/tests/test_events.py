"""``events()`` over Server-Sent Events and over long-polled pages, under concurrent jobs:
each event once, in order, to the terminal one; the two ways see the same timeline."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from figur import Figur

from .conftest import Studio, photo


def backdrop(n: int) -> dict[str, object]:
    return {"scene_type": "gradient", "mood": "soft", "resolution": "0.5K", "seed": 100 + n}


def test_sse_and_cursor_iteration_agree_under_concurrent_jobs(studio: Studio) -> None:
    # Background swaps (a matte, a composite): each runs long enough to be followed as it runs.
    with studio.client() as figur:
        photo_key = figur.upload(photo("astronaut.png")).upload_key
        swap = {"source_image_s3_key": photo_key, "output_preset": "original", "scene_type": "linen", "mood": "warm"}
        jobs = [figur.dispatch("background-swap-with-spec", {**swap, "seed": n}).job_id for n in range(6)]

    def follow(job: str, stream: bool) -> list[tuple[int, str]]:
        # A client per thread, as a script with workers would have.
        with studio.client() as own:
            return [(e.seq, e.event_type.value) for e in own.events(job, stream=stream)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        streamed = list(pool.map(lambda j: follow(j, True), jobs))
        paged = list(pool.map(lambda j: follow(j, False), jobs))
    for job, sse, pages in zip(jobs, streamed, paged):
        seqs = [s for s, _ in sse]
        assert seqs == list(range(1, len(seqs) + 1)), f"{job}: no repeat, no gap: {seqs}"
        assert sse[-1][1] == "succeeded" and sse == pages


def test_events_resume_after_a_cursor_and_stop_at_once_without_follow(figur: Figur) -> None:
    job = figur.run("background-generator", backdrop(50)).job_id
    every = list(figur.events(job, follow=False))
    assert every[-1].event_type == "succeeded"
    later = list(figur.events(job, since=3))
    assert [e.seq for e in later] == [e.seq for e in every if e.seq > 3]
    assert list(figur.events(job, since=every[-1].seq, follow=False)) == []


class CuttingProxy:
    """A TCP proxy in front of the studio that cuts the first event stream it carries after its
    first ``cut`` bytes of answer (mid-stream, as a dropped connection would)."""

    def __init__(self, target: str, cut: int) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.cut = cut
        self.cuts = 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.carry, args=(client,), daemon=True).start()

    def carry(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        request = client.recv(65536)
        upstream.sendall(request)
        cutting = b"text/event-stream" in request and self.cuts == 0
        if cutting:
            self.cuts += 1
        threading.Thread(target=self.pipe, args=(client, upstream, None), daemon=True).start()
        self.pipe(upstream, client, self.cut if cutting else None)

    @staticmethod
    def pipe(src: socket.socket, dst: socket.socket, limit: Optional[int]) -> None:
        sent = 0
        try:
            while limit is None or sent < limit:
                data = src.recv(4096 if limit is None else min(4096, limit - sent))
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.server.close()


def test_a_stream_cut_mid_way_resumes_without_a_repeat_or_a_gap(studio: Studio) -> None:
    with studio.client() as figur:
        job = figur.run("background-generator", backdrop(70)).job_id
        whole = [e.seq for e in figur.events(job, follow=False)]
    proxy = CuttingProxy(studio.base_url, cut=700)
    try:
        with Figur(proxy.url, studio.key) as through:
            seen = [e.seq for e in through.events(job)]
        assert proxy.cuts == 1, "the first stream was cut"
        assert seen == whole, f"resumed after the cut: {seen} against {whole}"
    finally:
        proxy.close()
