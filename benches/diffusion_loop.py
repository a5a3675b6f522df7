"""The Python side of `cargo bench --bench diffusion`: the same denoising loop as the engine's
(ONNX Runtime for the UNet, diffusers' own scheduler from the export's scheduler_config.json,
classifier-free guidance in one batched call), timed per step. Prints the median step in ms.

    python diffusion_loop.py EXPORT_DIR STEPS SIDE
"""
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, PNDMScheduler

export, steps, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = json.load(open(f"{export}/scheduler/scheduler_config.json"))
classes = {c.__name__: c for c in [DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, PNDMScheduler]}
scheduler = classes[config["_class_name"]].from_config(config)

options = ort.SessionOptions()
unet = ort.InferenceSession(f"{export}/unet/model.onnx", options, providers=["CPUExecutionProvider"])
text = ort.InferenceSession(f"{export}/text_encoder/model.onnx", providers=["CPUExecutionProvider"])
ids = np.full((1, 77), 520, dtype=np.int32)
hidden = text.run(["last_hidden_state"], {"input_ids": ids})[0]
hidden = np.concatenate([hidden, hidden])
latent = side // 8
rng = np.random.default_rng(1)
latents = rng.standard_normal((1, 4, latent, latent)).astype(np.float32) * float(scheduler.init_noise_sigma)
scheduler.set_timesteps(steps)
guidance = 7.5
times = []
for t in scheduler.timesteps:
    start = time.perf_counter()
    model_input = np.concatenate([latents, latents])
    model_input = scheduler.scale_model_input(torch.from_numpy(model_input), t).numpy()
    timestep = np.array([int(t)], dtype=np.int64)
    out = unet.run(["out_sample"], {"sample": model_input, "timestep": timestep, "encoder_hidden_states": hidden})[0]
    uncond, cond = out[:1], out[1:]
    guided = uncond + guidance * (cond - uncond)
    latents = scheduler.step(torch.from_numpy(guided), t, torch.from_numpy(latents)).prev_sample.numpy()
    times.append(time.perf_counter() - start)
print(f"{statistics.median(times[1:]) * 1000:.3f}")
