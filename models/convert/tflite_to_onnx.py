"""Converts a TFLite model to ONNX for Figur Studio's fetch step.

Run by `figur models fetch` inside the private venv it creates (tensorflow-cpu, tf2onnx, onnx;
versions pinned in convert/requirements.txt):

    python tflite_to_onnx.py MODEL.tflite OUT.onnx [--opset 17]

MediaPipe models use a custom op, Convolution2DTransposeBias (a stride-2 transposed
convolution with its bias, on NHWC tensors). tf2onnx leaves it unconverted; it is rewritten
here as a standard ONNX ConvTranspose on the NCHW tensor that tf2onnx transposed away from,
with the TFLite OHWI weights permuted to ONNX's (C_in, C_out, kH, kW) and the bias folded in.
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def rewrite_transpose_conv_bias(model: onnx.ModelProto) -> int:
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    rewritten = 0
    for node in list(graph.node):
        if node.op_type != "TFL_Convolution2DTransposeBias":
            continue
        x_nhwc, w_name, b_name = node.input
        weights = numpy_helper.to_array(inits[w_name])  # OHWI
        bias = numpy_helper.to_array(inits[b_name])
        out_c, kh, kw, _ = weights.shape
        to_nhwc = producer.get(x_nhwc)
        perm = next((helper.get_attribute_value(a) for a in to_nhwc.attribute if a.name == "perm"), None) if to_nhwc else None
        if to_nhwc is None or to_nhwc.op_type != "Transpose" or list(perm) != [0, 2, 3, 1]:
            raise SystemExit(f"{node.name}: expected its input to come from an NCHW->NHWC Transpose")
        x_nchw = to_nhwc.input[0]
        w_onnx = numpy_helper.from_array(np.ascontiguousarray(weights.transpose(3, 0, 1, 2)), w_name + "_iohw")
        b_onnx = numpy_helper.from_array(bias.astype(np.float32).reshape(out_c), b_name + "_bias")
        graph.initializer.extend([w_onnx, b_onnx])
        y_nchw = node.output[0] + "_nchw"
        deconv = helper.make_node(
            "ConvTranspose",
            [x_nchw, w_onnx.name, b_onnx.name],
            [y_nchw],
            name=node.name + "_conv_transpose",
            kernel_shape=[kh, kw],
            strides=[2, 2],
            pads=[0, 0, 0, 0],
        )
        back = helper.make_node("Transpose", [y_nchw], [node.output[0]], name=node.name + "_to_nhwc", perm=[0, 2, 3, 1])
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, back)
        graph.node.insert(index, deconv)
        rewritten += 1
    return rewritten


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("tflite")
    parser.add_argument("onnx")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()

    import tf2onnx  # imported late: slow, and only needed here

    model, _ = tf2onnx.convert.from_tflite(args.tflite, opset=args.opset)
    count = rewrite_transpose_conv_bias(model)
    unsupported = [n.op_type for n in model.graph.node if n.op_type.startswith("TFL_")]
    if unsupported:
        print(f"unsupported ops remain: {sorted(set(unsupported))}", file=sys.stderr)
        return 1
    onnx.checker.check_model(model)
    onnx.save(model, args.onnx)
    print(f"converted {args.tflite} -> {args.onnx} ({count} custom op(s) rewritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
