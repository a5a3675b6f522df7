#!/usr/bin/env python3
"""Export CatVTON (arXiv 2407.15886, github.com/Zheng-Chong/CatVTON) to the studio's try-on
layout, on a machine with internet, diffusers and torch:

    python3 scripts/export-catvton.py OUT [--version mix|vitonhd|dresscode] [--fp16]
    figur models add catvton --from OUT --license CC-BY-NC-SA-4.0

The layout (what `figur models add` recognises as a try-on model):

    model_index.json                {"_class_name": "CatVTONPipeline", ...}
    unet/model.onnx (+ model.onnx_data)
        inputs  sample   [B, 9, 2h, w]  x_t 4 | mask 1 | masked person over garment 4
                timestep [1]            int64
        output  out_sample [B, 4, 2h, w]
        (no text input: CatVTON skips the UNet's cross-attention)
    unet/config.json
    vae_encoder/model.onnx          sample [1, 3, H, W] -> latent_parameters (mean | log-variance)
    vae_decoder/model.onnx          latent_sample [1, 4, h, w] -> sample
    vae_encoder/config.json, vae_decoder/config.json   the VAE's config (scaling_factor)
    scheduler/scheduler_config.json DDIMScheduler

What goes in: the Stable Diffusion 1.5 inpainting UNet (`--base`), its self-attention replaced
by CatVTON's trained weights (`--attention`, the `mix`, `vitonhd` or `dresscode` version) and
its cross-attention skipped, and the ft-mse VAE (`--vae`). The public CatVTON weights are
CC BY-NC-SA 4.0 (non-commercial): name that licence at `figur models add`, and the studio shows
it wherever the model is picked and in each render's provenance.

`--tiny` builds a randomly initialised UNet and VAE of the same shape instead (no download):
the script's own test (scripts/test-export-catvton) adds and runs it.
"""

import argparse
import json
import os
import sys
import tempfile

VERSIONS = {"mix": "mix-48k-1024", "vitonhd": "vitonhd-16k-512", "dresscode": "dresscode-16k-512"}


def skip_cross_attention(unet):
    """CatVTON's `init_adapter(unet, cross_attn_cls=SkipAttnProcessor)`: every attn2 returns
    its input; attn1 keeps the standard processor."""
    from diffusers.models.attention_processor import AttnProcessor

    class SkipAttnProcessor:
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
            return hidden_states

    procs = {}
    for name in unet.attn_processors.keys():
        procs[name] = AttnProcessor() if name.endswith("attn1.processor") else SkipAttnProcessor()
    unet.set_attn_processor(procs)


def attention_modules(unet):
    """CatVTON's `get_trainable_module(unet, "attention")`: every attn1, in module order."""
    import torch

    blocks = torch.nn.ModuleList()
    for name, module in unet.named_modules():
        if "attn1" in name:
            blocks.append(module)
    return blocks


def load_models(args):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    if args.tiny:
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=9,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(32, 64),
            latent_channels=4,
            norm_num_groups=8,
            sample_size=16,
        )
        scheduler = DDIMScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
            set_alpha_to_one=False, steps_offset=1,
        )
        skip_cross_attention(unet)
        return unet, vae, scheduler
    from huggingface_hub import snapshot_download
    from accelerate.utils import load_checkpoint_in_model

    scheduler = DDIMScheduler.from_pretrained(args.base, subfolder="scheduler")
    unet = UNet2DConditionModel.from_pretrained(args.base, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(args.vae)
    skip_cross_attention(unet)
    attention = args.attention
    if not os.path.exists(attention):
        attention = snapshot_download(repo_id=attention)
    load_checkpoint_in_model(attention_modules(unet), os.path.join(attention, VERSIONS[args.version], "attention"))
    return unet, vae, scheduler


def export(module, inputs, names, outputs, dynamic, path):
    """One graph, its weights in `model.onnx_data` beside it (a UNet is over protobuf's 2 GB)."""
    import onnx
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        raw = os.path.join(scratch, "model.onnx")
        torch.onnx.export(
            module, inputs, raw, input_names=names, output_names=outputs, dynamic_axes=dynamic,
            opset_version=17, do_constant_folding=True, dynamo=False,
        )
        model = onnx.load(raw, load_external_data=True)
    if os.path.exists(path + "_data"):
        os.remove(path + "_data")
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx_data", size_threshold=1024)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="mix")
    parser.add_argument("--base", default="booksforcharlie/stable-diffusion-inpainting",
                        help="the Stable Diffusion 1.5 inpainting checkpoint (a hub id or a folder)")
    parser.add_argument("--attention", default="zhengchong/CatVTON", help="CatVTON's weights (a hub id or a folder)")
    parser.add_argument("--vae", default="stabilityai/sd-vae-ft-mse")
    parser.add_argument("--fp16", action="store_true", help="half-precision graphs (for a GPU)")
    parser.add_argument("--tiny", action="store_true", help="random weights of the same shape (for the script's test)")
    args = parser.parse_args()

    import torch

    unet, vae, scheduler = load_models(args)
    # Half precision is traced as such (diffusers casts its timestep embedding to the sample's
    # type), so every float tensor of the graphs, inputs and outputs included, is fp16.
    dtype = torch.float16 if args.fp16 else torch.float32
    unet = unet.to(dtype).eval()
    vae = vae.to(dtype).eval()
    out = args.out
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"{out} is not empty")
    os.makedirs(out, exist_ok=True)

    class TryOnUNet(torch.nn.Module):
        def __init__(self, unet):
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep):
            # No text: the cross-attention is skipped, so its input is never read.
            hidden = torch.zeros(sample.shape[0], 1, self.unet.config.cross_attention_dim, dtype=sample.dtype)
            return self.unet(sample, timestep, encoder_hidden_states=hidden, return_dict=False)[0]

    class Encoder(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, sample):
            return self.vae.quant_conv(self.vae.encoder(sample))

    class Decoder(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, latent_sample):
            return self.vae.decode(latent_sample, return_dict=False)[0]

    side = 8 if args.tiny else 64
    sample = torch.randn(2, 9, 2 * side, side * 3 // 4 if not args.tiny else side, dtype=dtype)
    timestep = torch.tensor([999], dtype=torch.int64)
    with torch.no_grad():
        export(TryOnUNet(unet), (sample, timestep), ["sample", "timestep"], ["out_sample"],
               {"sample": {0: "batch", 2: "height", 3: "width"}, "out_sample": {0: "batch", 2: "height", 3: "width"}},
               os.path.join(out, "unet", "model.onnx"))
        scale = 2 ** (len(vae.config.block_out_channels) - 1)
        pixels = torch.randn(1, 3, side * scale, side * scale, dtype=dtype)
        export(Encoder(vae), (pixels,), ["sample"], ["latent_parameters"],
               {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "h", 3: "w"}},
               os.path.join(out, "vae_encoder", "model.onnx"))
        latents = torch.randn(1, 4, side, side, dtype=dtype)
        export(Decoder(vae), (latents,), ["latent_sample"], ["sample"],
               {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "h", 3: "w"}},
               os.path.join(out, "vae_decoder", "model.onnx"))
    unet_config = dict(unet.config)
    vae_config = dict(vae.config)
    for part, config in (("unet", unet_config), ("vae_encoder", vae_config), ("vae_decoder", vae_config)):
        with open(os.path.join(out, part, "config.json"), "w") as f:
            json.dump(config, f, indent=2, default=list)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(dict(scheduler.config, _class_name="DDIMScheduler"), f, indent=2, default=list)
    index = {
        "_class_name": "CatVTONPipeline",
        "attention": "random (--tiny)" if args.tiny else f"{args.attention} {VERSIONS[args.version]}",
        "base": None if args.tiny else args.base,
        "vae": None if args.tiny else args.vae,
        "dtype": "float16" if args.fp16 else "float32",
    }
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print(f"wrote {out}; add it with: figur models add catvton --from {out} --license CC-BY-NC-SA-4.0")


if __name__ == "__main__":
    main()
