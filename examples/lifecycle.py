#!/usr/bin/env python3
"""The /v1 lifecycle in plain HTTP (standard library only, no SDK): upload a photo, dispatch a
background swap, follow its events to the end, download the render.

    python3 examples/lifecycle.py --base http://127.0.0.1:8686 --key sk_live_... --photo me.jpg

Exits non-zero with the error code when the job fails. The same script runs against the hosted
Figur API with only --base and --key changed.
"""
import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid


def call(base, key, method, path, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def upload(base, key, path):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        payload = f.read()
    name = path.rsplit("/", 1)[-1]
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    status, reply = call(base, key, "POST", "/v1/uploads", body, f"multipart/form-data; boundary={boundary}")
    if status != 200:
        sys.exit(f"upload failed: {reply['error']['code']}: {reply['error']['message']}")
    return reply["upload_key"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="http://127.0.0.1:8686")
    p.add_argument("--key", required=True)
    p.add_argument("--photo", required=True)
    p.add_argument("--out", default="render.png")
    a = p.parse_args()

    key = upload(a.base, a.key, a.photo)
    body = {"source_image_s3_key": key, "output_preset": "original", "scene_type": "studio", "mood": "calm"}
    status, job = call(a.base, a.key, "POST", "/v1/background-swap-with-spec", body)
    if status != 202:
        sys.exit(f"dispatch refused ({status}): {job['error']['code']}: {job['error']['message']}")
    job_id, since = job["job_id"], 0
    print(f"job {job_id}", file=sys.stderr)
    while True:
        # Long-poll: the studio answers as soon as there is a new event (or after 25 s).
        status, page = call(a.base, a.key, "GET", f"/v1/jobs/{job_id}/events?since={since}&wait=25")
        for e in page["events"]:
            since = max(since, e["seq"])
            print(f"  {e['event_type']:<9} {e.get('stage') or '':<11} {e['message']}", file=sys.stderr)
            if e["event_type"] == "failed":
                err = e["extra"].get("error", {})
                sys.exit(f"job failed: {err.get('code')}: {err.get('message')}")
            if e["event_type"] == "succeeded":
                url = e["artifacts"][0]["image_url"]
                with urllib.request.urlopen(url, timeout=60) as r, open(a.out, "wb") as f:
                    f.write(r.read())
                print(a.out)
                return


if __name__ == "__main__":
    main()
