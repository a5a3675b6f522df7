//! Golden checks: a fetched model runs on a fixed input and its outputs must match the
//! manifest's recorded summary. Converted models are not byte-identical run to run, but their
//! outputs are — so correctness is checked by what the model computes, not by its file hash.

use ort::value::Tensor;

use crate::manifest::{GoldenOutput, Manifest};
use crate::session::Loaded;
use crate::ModelError;

/// The fixed input for a tensor shape: a smooth deterministic pattern in -0.9..0.9.
pub fn input(shape: &[i64]) -> Vec<f32> {
    let n: i64 = shape.iter().product();
    (0..n).map(|i| ((i as f32) * 0.001).sin() * 0.9).collect()
}

/// Runs `model` on the golden input; one summary per output.
pub fn run(model: &Loaded, m: &Manifest) -> Result<Vec<GoldenOutput>, ModelError> {
    let run_err = |e: ort::Error| ModelError::Run(format!("{}: {e}", m.id));
    let mut session = model.session.lock().unwrap_or_else(|p| p.into_inner());
    let inputs = m
        .inputs
        .iter()
        .map(|t| {
            let shape: Vec<usize> = t.shape.iter().map(|d| *d as usize).collect();
            Tensor::from_array((shape, input(&t.shape))).map(|v| (t.name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(run_err)?;
    let names: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
    let outputs = session.run(inputs).map_err(run_err)?;
    let mut summaries = Vec::new();
    for name in names {
        let (shape, data) = outputs[name.as_str()].try_extract_tensor::<f32>().map_err(run_err)?;
        let sum: f64 = data.iter().map(|v| *v as f64).sum();
        let abs_mean = data.iter().map(|v| v.abs() as f64).sum::<f64>() / data.len().max(1) as f64;
        summaries.push(GoldenOutput { name, shape: shape.to_vec(), sum, abs_mean });
    }
    Ok(summaries)
}

/// Differences between what ran and what the manifest records.
pub fn compare(found: &[GoldenOutput], m: &Manifest) -> Vec<String> {
    let Some(golden) = &m.golden else { return vec!["the manifest records no golden output".into()] };
    let close = |a: f64, b: f64| (a - b).abs() <= golden.tolerance * b.abs().max(1.0);
    let mut problems = Vec::new();
    for want in &golden.outputs {
        match found.iter().find(|f| f.name == want.name) {
            None => problems.push(format!("output {} is missing", want.name)),
            Some(got) if got.shape != want.shape => {
                problems.push(format!("output {}: shape {:?}, expected {:?}", want.name, got.shape, want.shape))
            }
            Some(got) if !close(got.sum, want.sum) || !close(got.abs_mean, want.abs_mean) => problems.push(format!(
                "output {}: sum {:.6} / mean |x| {:.6}, expected {:.6} / {:.6}",
                want.name, got.sum, got.abs_mean, want.sum, want.abs_mean
            )),
            Some(_) => {}
        }
    }
    problems
}

/// The manifest lines that record `found` as golden (for adding a model).
pub fn to_toml(found: &[GoldenOutput]) -> String {
    let mut out = String::from("[golden]\ntolerance = 1e-4\n");
    for o in found {
        out.push_str(&format!(
            "\n[[golden.outputs]]\nname = \"{}\"\nshape = {:?}\nsum = {:.6}\nabs_mean = {:.6}\n",
            o.name, o.shape, o.sum, o.abs_mean
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_input_is_fixed_and_bounded() {
        let a = input(&[1, 4, 4, 3]);
        assert_eq!(a.len(), 48);
        assert_eq!(a, input(&[1, 4, 4, 3]));
        assert!(a.iter().all(|v| v.abs() <= 0.9));
    }
}
