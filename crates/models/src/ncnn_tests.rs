//! The converter on a small ncnn model written here, whose output is computed by hand (fp16 and
//! fp32 weights, a fused leaky ReLU, Split, a weighted Eltwise sum, a BinaryOp, nearest ×2
//! Interp), run by ONNX Runtime and compared with the arithmetic written out. Concat and the
//! real network are checked against ncnn itself (`tests/api/upscale.rs`).

use super::*;

const PARAM: &str = "7767517
8 10
Input            in        0 1 data
Split            s0        1 2 data d0 d1
Convolution      c1        1 1 d0 c1 0=3 1=1 5=1 6=9 9=2 -23310=1,1.000000e-01
Split            s1        1 2 c1 a b
Eltwise          e         2 1 a b e 0=1 -23301=2,5.000000e-01,1.000000e+00
BinaryOp         add       2 1 e d1 f 0=0
Interp           up        1 1 f g 0=1 1=2.000000e+00 2=2.000000e+00
Convolution      c2        1 1 g output 0=3 1=3 4=1 5=0 6=81
";

/// c1: 3×3 weights (out, in), fp16; its bias; c2: 3×3×3×3 weights, fp32.
fn c1() -> ([f32; 9], [f32; 3]) {
    ([0.5, -0.25, 0.125, 1.0, 0.5, -1.0, 0.0, 0.25, 0.75], [0.1, -0.2, 0.05])
}

fn c2(o: usize, i: usize, ky: usize, kx: usize) -> f32 {
    ((o * 27 + i * 9 + ky * 3 + kx) as f32 * 0.37).sin() * 0.2
}

fn bin() -> Vec<u8> {
    let (w1, b1) = c1();
    let mut out = 0x0130_6B47u32.to_le_bytes().to_vec();
    for w in w1 {
        out.extend(f16::from_f32(w).to_le_bytes());
    }
    out.extend([0, 0]); // 9 halves padded to 4 bytes
    for b in b1 {
        out.extend(b.to_le_bytes());
    }
    out.extend(0u32.to_le_bytes());
    for o in 0..3 {
        for i in 0..3 {
            for ky in 0..3 {
                for kx in 0..3 {
                    out.extend(c2(o, i, ky, kx).to_le_bytes());
                }
            }
        }
    }
    out
}

/// The network by hand on a [3, h, w] input: [3, 2h, 2w].
fn by_hand(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let (w1, b1) = c1();
    let at = |c: usize, y: usize, xx: usize| x[c * h * w + y * w + xx];
    let mut f = vec![0.0; 3 * h * w];
    for o in 0..3 {
        for y in 0..h {
            for xx in 0..w {
                let v = b1[o] + (0..3).map(|i| w1[o * 3 + i] * at(i, y, xx)).sum::<f32>();
                let leaky = if v < 0.0 { 0.1 * v } else { v };
                f[o * h * w + y * w + xx] = 1.5 * leaky + at(o, y, xx);
            }
        }
    }
    let (h2, w2) = (2 * h, 2 * w);
    let g = |c: usize, y: usize, xx: usize| f[c * h * w + (y / 2) * w + xx / 2];
    let mut out = vec![0.0; 3 * h2 * w2];
    for o in 0..3 {
        for y in 0..h2 {
            for xx in 0..w2 {
                let mut v = 0.0;
                for i in 0..3 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (sy, sx) = (y as i64 + ky as i64 - 1, xx as i64 + kx as i64 - 1);
                            if sy >= 0 && sx >= 0 && (sy as usize) < h2 && (sx as usize) < w2 {
                                v += c2(o, i, ky, kx) * g(i, sy as usize, sx as usize);
                            }
                        }
                    }
                }
                out[o * h2 * w2 + y * w2 + xx] = v;
            }
        }
    }
    out
}

#[test]
fn the_converted_graph_computes_the_ncnn_model_s_arithmetic() {
    let root = crate::Cache::default_root().expect("a cache folder");
    let env = crate::runtime::init(&crate::Cache::new(root), false)
        .expect("ONNX Runtime is not installed: run `figur models fetch` (./studio test does)");
    let onnx = to_graph(PARAM, &bin()).unwrap().to_onnx();
    let mut session = ort::session::Session::builder(env).unwrap().commit_from_memory(&onnx).unwrap();
    let (h, w) = (5, 7);
    let x: Vec<f32> = (0..3 * h * w).map(|k| ((k as f32) * 0.61).cos()).collect();
    let input = ort::value::Tensor::from_array((vec![1usize, 3, h, w], x.clone())).unwrap();
    let outputs = session.run(ort::inputs!["input" => input]).unwrap();
    let (shape, got) = outputs["output"].try_extract_tensor::<f32>().unwrap();
    assert_eq!(shape.to_vec(), vec![1, 3, 2 * h as i64, 2 * w as i64]);
    let want = by_hand(&x, h, w);
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    // c1's weights are exactly representable in fp16; the rest is float rounding.
    assert!(worst < 1e-4, "off by {worst}");
}

#[test]
fn what_it_cannot_read_is_refused_by_name() {
    let other = PARAM.replace("Eltwise          e", "Crop             e");
    assert!(
        matches!(to_graph(&other, &bin()), Err(NcnnError::Unsupported { kind, name }) if kind == "Crop" && name == "e")
    );
    assert!(matches!(to_graph("1234\n", &bin()), Err(NcnnError::Param(_))));
    let mut short = bin();
    short.truncate(20);
    assert!(matches!(to_graph(PARAM, &short), Err(NcnnError::Bin(_))));
    let mut long = bin();
    long.extend([0; 8]);
    assert!(matches!(to_graph(PARAM, &long), Err(NcnnError::Bin(m)) if m.contains("8 bytes")));
}
