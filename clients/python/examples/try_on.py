"""The try-on lifecycle in ten lines: upload, dispatch, follow, save. The same script runs on a
local studio and on the hosted API: FIGUR_BASE_URL and FIGUR_API_KEY say which.

    FIGUR_BASE_URL=http://127.0.0.1:8686 FIGUR_API_KEY=sk_live_… python try_on.py me.jpg shirt.jpg out/
"""

import sys

from figur import Figur

figur = Figur()
person, shirt = (figur.upload(path).upload_key for path in sys.argv[1:3])
body = {"user_image": person, "items": [{"trial_image": shirt, "trial_item_category": "top"}]}
done = figur.run("try-on", body, on_event=lambda e: print(e.event_type.value, e.stage or "", e.message))
print("saved", *done.save(sys.argv[3] if len(sys.argv) > 3 else "renders"))
