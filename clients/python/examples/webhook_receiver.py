"""A webhook receiver on one page (FastAPI): every delivery's signature checked against the
studio's secret (`figur keys webhook-secret` prints it) before it is trusted.

    pip install fastapi uvicorn figur
    FIGUR_WEBHOOK_SECRET=whsec_… uvicorn webhook_receiver:app --port 9000

then dispatch with `"webhook_url": "http://127.0.0.1:9000/hooks/figur"`. A delivery is retried
until it gets a 2xx, with the same `webhook-id`: keep the ids you have handled.
"""

import os

from fastapi import FastAPI, HTTPException, Request, Response

from figur import webhooks

app = FastAPI()
handled: set[str] = set()


@app.post("/hooks/figur")
async def figur_webhook(request: Request) -> Response:
    body = await request.body()  # the raw bytes: what was signed
    try:
        delivery = webhooks.verify(body, dict(request.headers), os.environ["FIGUR_WEBHOOK_SECRET"])
    except webhooks.WebhookVerificationError as e:
        raise HTTPException(status_code=400, detail=e.message) from e
    job = delivery["data"]
    if job["public_id"] not in handled:
        handled.add(job["public_id"])
        if delivery["type"] == "job.succeeded":
            print("done:", job["public_id"], [a["image_url"] for a in job["result"]])
        else:
            print("failed:", job["public_id"], job["latest_event"]["extra"].get("error"))
    return Response(status_code=204)
