"""The Python baseline of `cargo bench --bench vision`: the same background swap as the engine's
(decode -> matte at 256^2 -> upsample -> guided filter -> cover background -> composite in
linear light -> PNG encode), written the usual way with onnxruntime, NumPy and Pillow.

    python vision_pipeline.py MODEL.onnx PHOTO.png BACKGROUND.png N
prints: total_ms_per_swap model_ms_per_swap
"""

import io
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def box(p, r):
    h, w = p.shape
    s = np.zeros((h + 1, w + 1), np.float64)
    s[1:, 1:] = p.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    total = s[y1][:, x1] - s[y0][:, x1] - s[y1][:, x0] + s[y0][:, x0]
    area = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    return (total / area).astype(np.float32)


def guided(i, p, r, eps):
    mi, mp = box(i, r), box(p, r)
    a = (box(i * p, r) - mi * mp) / (box(i * i, r) - mi * mi + eps)
    b = mp - a * mi
    return np.clip(box(a, r) * i + box(b, r), 0, 1)


def smoothstep(lo, hi, x):
    t = np.clip((x - lo) / (hi - lo), 0, 1)
    return t * t * (3 - 2 * t)


def to_linear(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def to_srgb(c):
    c = np.maximum(c, 0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def foreground(lin, alpha, r):
    wgt = (1 - alpha) ** 2
    mw = box(wgt, r)
    bg = np.stack([box(lin[..., c] * wgt, r) / np.maximum(mw, 1e-4) for c in range(3)], -1)
    a = alpha[..., None]
    f = np.clip((lin - (1 - a) * bg) / np.maximum(a, 0.15), 0, 1)
    keep = (alpha < 0.02) | (alpha >= 0.98) | (mw < 1e-3)
    f[keep] = lin[keep]
    return f


def swap(session, photo_bytes, background, timer):
    img = np.asarray(Image.open(io.BytesIO(photo_bytes)).convert("RGB"), np.float32) / 255.0
    h, w, _ = img.shape
    small = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((256, 256), Image.BILINEAR), np.float32) / 255.0
    t = time.perf_counter()
    low = session.run(None, {"input_1": small[None]})[0][0, :, :, 0]
    timer[0] += time.perf_counter() - t
    low = smoothstep(0.3, 0.7, low)
    coarse = np.asarray(Image.fromarray(low.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
    guide = img @ np.array([0.299, 0.587, 0.114], np.float32)
    alpha = smoothstep(0.06, 0.94, guided(guide, coarse, max(2, min(24, max(w, h) // 100)), 2e-4))
    bg = to_linear(np.asarray(background.resize((w, h), Image.BICUBIC), np.float32) / 255.0)
    fg = foreground(to_linear(img), alpha, max(4, min(48, max(w, h) // 60)))
    # Colour balance toward the scene, as the engine does (35 %).
    tint = lambda c: c / (c.mean() + 1e-6)
    fg_mean = (fg * alpha[..., None]).sum((0, 1)) / max(alpha.sum(), 1e-6)
    gain = 1 + 0.35 * np.clip(tint(bg.mean((0, 1))) / np.maximum(tint(fg_mean), 1e-3) - 1, -0.3, 0.3)
    a = alpha[..., None]
    out = to_srgb(fg * gain * a + bg * (1 - a))
    buf = io.BytesIO()
    Image.fromarray((np.clip(out, 0, 1) * 255).round().astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def main():
    model, photo, background, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    options = ort.SessionOptions()
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    photo_bytes = open(photo, "rb").read()
    bg = Image.open(background).convert("RGB")
    swap(session, photo_bytes, bg, [0.0])  # warm-up
    timer = [0.0]
    t = time.perf_counter()
    for _ in range(n):
        swap(session, photo_bytes, bg, timer)
    total = (time.perf_counter() - t) / n * 1000
    print(f"{total:.2f} {timer[0] / n * 1000:.2f}")


if __name__ == "__main__":
    main()
