"""The ncnn converter's reference check (issue 29): runs an ncnn model (`.param`, `.bin`) with
ncnn itself and the converted ONNX file with ONNX Runtime on the same deterministic tile, and
prints the largest difference of any output value. Used by `tests/api/upscale.rs` in a venv
holding the `ncnn` and `onnxruntime` PyPI wheels.

    python ncnn_reference.py MODEL.param MODEL.bin MODEL.onnx [SIDE]
"""
import sys

import ncnn
import numpy as np
import onnxruntime as ort


def main():
    param, weights, onnx_path = sys.argv[1:4]
    side = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    tile = np.stack([(np.sin(x * 0.3 + y * 0.1) + 1) / 2, (np.cos(y * 0.25) + 1) / 2, (x + y) / (2 * side)])
    tile = np.ascontiguousarray(tile.astype(np.float32))

    net = ncnn.Net()
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_vulkan_compute = False
    if net.load_param(param) != 0 or net.load_model(weights) != 0:
        sys.exit("ncnn could not load the model")
    ex = net.create_extractor()
    ex.input("data", ncnn.Mat(tile))
    _, out = ex.extract("output")
    reference = np.array(out)

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    converted = session.run(["output"], {"input": tile[None]})[0][0]
    if reference.shape != converted.shape:
        sys.exit(f"shapes differ: ncnn {reference.shape}, converted {converted.shape}")
    print(f"{np.abs(reference - converted).max():.6g} {reference.shape[1]}x{reference.shape[2]}")


if __name__ == "__main__":
    main()
