//! `figur models …` and `figur doctor`: the model fetch step and its checks.

use anyhow::{bail, Context, Result};
use figur_models::state::{self, Integrity};
use figur_models::{brought, golden, manifest, runtime, session, Providers};

use crate::cli::ModelsCommand;

use crate::place::cache;

/// Progress on stderr: a heading (`isnet:`) as it is, its lines indented under it.
fn log(line: &str) {
    if line.ends_with(':') {
        eprintln!("{line}");
    } else {
        eprintln!("  {line}");
    }
}

fn selected(ids: &[String], default_set: bool) -> Result<Vec<manifest::Manifest>> {
    if ids.is_empty() {
        return Ok(manifest::all().into_iter().filter(|m| !default_set || m.default).collect());
    }
    ids.iter()
        .map(|id| {
            manifest::find(id).with_context(|| format!("no model is called `{id}`; `figur models list` shows them"))
        })
        .collect()
}

pub fn run(cmd: ModelsCommand) -> Result<()> {
    let cache = cache()?;
    match cmd {
        ModelsCommand::List => {
            let mut rows = Vec::new();
            for (rt, set) in [(manifest::runtime(), "default"), (manifest::runtime_gpu(), "opt-in: --gpu")] {
                let state = if runtime::is_installed(&cache, &rt) { "installed" } else { "missing" };
                rows.push([rt.name, state.into(), rt.licence, format!("ONNX Runtime {} ({set})", rt.version)]);
            }
            for m in manifest::all() {
                let state = state::integrity(&cache, &m).word();
                let set = if m.default { "default" } else { "opt-in" };
                rows.push([
                    m.id,
                    state.into(),
                    short_licence(&m.licence),
                    format!("{} ({set}; {})", m.name, m.purpose),
                ]);
            }
            for r in brought::list(&cache) {
                let what = format!("{}, {} (added from {})", r.kind_words(), r.scheduler, r.source);
                rows.push([r.name, "added".into(), r.licence, what]);
            }
            print!("{}", columns(&rows));
        }
        ModelsCommand::Tune { name, tuning } => {
            let record = brought::tune(&cache, &name, tuning.steps, tuning.guidance)?;
            println!("{name}: {}", tuning_words(&record));
        }
        ModelsCommand::Add { name, from, from_hub, subfolder, license, tuning } => {
            let (from, card_licence, downloaded) = match (from, from_hub) {
                (Some(dir), _) => (dir, None, false),
                (None, Some(spec)) => {
                    let handle = tokio::runtime::Handle::current();
                    let (dir, licence) =
                        handle.block_on(crate::hub::download(cache.root(), &spec, subfolder.as_deref()))?;
                    (dir, licence, true)
                }
                (None, None) => bail!("--from DIR or --from-hub OWNER/REPO names the export"),
            };
            let Some(license) = license.or(card_licence) else {
                bail!("name the model's licence with --license (its model card names none)");
            };
            eprintln!("checking {}", from.display());
            let mut record = brought::add(&cache, &name, &from, &license, &mut log)?;
            if tuning.steps.is_some() || tuning.guidance.is_some() {
                record = brought::tune(&cache, &name, tuning.steps, tuning.guidance)?;
            }
            if downloaded {
                // The download folder was only the way in: the added copy is the model now.
                let _ = std::fs::remove_dir_all(&from);
            }
            println!(
                "added {name}: {}, {}, {} files, licence {}, {}",
                record.kind_words(),
                record.scheduler,
                record.files.len(),
                record.licence,
                tuning_words(&record)
            );
        }
        ModelsCommand::Fetch { ids, accept_license, gpu } => {
            let models = selected(&ids, true)?;
            for m in &models {
                if let Some(notice) = &m.licence_notice {
                    if !accept_license {
                        bail!(
                            "{} is licensed {}: {notice}\nRun again with --accept-license to accept it.",
                            m.id,
                            m.licence
                        );
                    }
                }
            }
            state::install(&cache, &models, gpu, &mut log).context("fetching models")?;
            eprintln!("models are in {}", cache.root().display());
        }
        ModelsCommand::Verify { ids, print_golden } => {
            let mut failures = 0;
            // Added models are verified by their files' hashes (they have no golden output).
            let (added, ids): (Vec<_>, Vec<_>) = ids.into_iter().partition(|id| brought::find(&cache, id).is_some());
            for record in added.iter().filter_map(|id| brought::find(&cache, id)) {
                let problems = brought::verify(&cache, &record);
                if problems.is_empty() {
                    println!("{:<16} ok ({} files, sha256 intact)", record.name, record.files.len());
                } else {
                    failures += 1;
                    println!("{:<16} DAMAGED: {}", record.name, problems.join("; "));
                }
            }
            let manifests = if ids.is_empty() && !added.is_empty() { Vec::new() } else { selected(&ids, false)? };
            for m in manifests {
                match state::integrity(&cache, &m) {
                    Integrity::Missing => {
                        println!("{:<16} missing (figur models fetch {})", m.id, m.id);
                        continue;
                    }
                    Integrity::Damaged { expected, found } => {
                        failures += 1;
                        println!("{:<16} DAMAGED: sha256 {found}, installed as {expected}; run `figur models remove {0}` then `figur models fetch {0}`", m.id);
                        continue;
                    }
                    Integrity::Intact => {}
                }
                let loaded = session::open(&cache, &m.id, &Providers::parse("cpu").map_err(anyhow::Error::msg)?)?;
                let found = golden::run(&loaded, &m)?;
                if print_golden {
                    println!("# {}\n{}", m.id, golden::to_toml(&found));
                    continue;
                }
                let problems = golden::compare(&found, &m);
                if problems.is_empty() {
                    println!("{:<16} ok (sha256 intact, golden output matches)", m.id);
                } else {
                    failures += 1;
                    println!("{:<16} WRONG OUTPUT: {}", m.id, problems.join("; "));
                }
            }
            if failures > 0 {
                bail!("{failures} model(s) failed verification");
            }
        }
        ModelsCommand::Remove { id } if brought::find(&cache, &id).is_some() => {
            brought::remove(&cache, &id)?;
            println!("removed {id}");
        }
        ModelsCommand::Remove { id } => {
            let m = manifest::find(&id).with_context(|| format!("no model is called `{id}`"))?;
            if state::remove(&cache, &m)? {
                println!("removed {id}");
            } else {
                println!("{id} was not installed");
            }
        }
    }
    Ok(())
}

pub fn doctor(providers: Option<String>) -> Result<()> {
    let cache = cache()?;
    let providers = match providers {
        Some(list) => Providers::parse(&list),
        None => Providers::from_env(),
    }
    .map_err(anyhow::Error::msg)?;
    println!("cache:        {}", cache.root().display());
    let gpu_wanted = providers.order.contains(&figur_models::session::Provider::Cuda);
    match runtime::init(&cache, gpu_wanted) {
        Ok(_) => println!(
            "onnxruntime:  {} loaded from {}",
            manifest::runtime().version,
            runtime::chosen_library(&cache, gpu_wanted).display()
        ),
        Err(e) => println!("onnxruntime:  NOT LOADED: {e}"),
    }
    let wanted: Vec<&str> = providers.order.iter().map(|p| p.name()).collect();
    println!(
        "providers:    {} ({})",
        wanted.join(","),
        if providers.explicit { "as configured" } else { "auto: GPU when it loads, else CPU" }
    );
    for m in manifest::all() {
        let integrity = state::integrity(&cache, &m);
        let detail = match (&integrity, session::open(&cache, &m.id, &providers)) {
            (Integrity::Intact, Ok(loaded)) => format!("ready on {}", loaded.provider.name()),
            (Integrity::Intact, Err(e)) => format!("installed, cannot load: {e}"),
            (other, _) => other.word().to_string(),
        };
        println!("model:        {:<16} {detail}", m.id);
    }
    Ok(())
}

/// `figur samples`: fetches every sample photo and says what and whence each is.
pub fn samples() -> Result<()> {
    let cache = cache()?;
    for sample in figur_models::samples::SAMPLES {
        let path = figur_models::samples::get(&cache, sample.name)?;
        println!("{}\n    {}\n    {}\n    {}", sample.name, sample.shows, sample.origin, path.display());
    }
    Ok(())
}

/// How workflows call an added model: its own steps and guidance, or the defaults (a try-on
/// model's are CatVTON's).
fn tuning_words(record: &brought::Record) -> String {
    use figur_engine::diffusion::{pipeline, try_on};
    let (steps, guidance) = match record.is_try_on() {
        true => (try_on::STEPS, try_on::GUIDANCE),
        false => (pipeline::STEPS, pipeline::GUIDANCE),
    };
    let steps = record.steps.map(|s| s.to_string()).unwrap_or_else(|| format!("{steps} (default)"));
    let guidance = record.guidance.map(|g| g.to_string()).unwrap_or_else(|| format!("{guidance} (default)"));
    format!("workflows run it at {steps} steps, guidance {guidance}")
}

/// A licence without its parenthesised asides (`AGPL-3.0 (the package); MIT (the weights…)` →
/// `AGPL-3.0; MIT`): the list stays readable, the manifest keeps the whole text.
fn short_licence(licence: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in licence.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ;", ";")
}

/// Rows as aligned columns: every column but the last as wide as its widest cell, so a long
/// model name or licence never pushes the columns after it out of line.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::columns;

    #[test]
    fn columns_stay_aligned_past_sixteen_characters() {
        let rows = [
            ["person-matte".to_string(), "installed".into(), "Apache-2.0".into(), "MediaPipe".into()],
            ["a-very-long-added-model-name".to_string(), "added".into(), "CC-BY-NC-SA-4.0".into(), "CatVTON".into()],
        ];
        let text = columns(&rows);
        let lines: Vec<&str> = text.lines().collect();
        // Each column starts where it starts on the other line.
        let at = |line: &str, cell: &str| line.rfind(cell).unwrap();
        assert_eq!(at(lines[0], "installed"), at(lines[1], "added"), "{text}");
        assert_eq!(at(lines[0], "Apache-2.0"), at(lines[1], "CC-BY-NC-SA-4.0"), "{text}");
        assert_eq!(at(lines[0], "MediaPipe"), at(lines[1], "CatVTON"), "{text}");
        assert!(lines.iter().all(|l| *l == l.trim_end()));
    }

    #[test]
    fn licences_are_listed_without_their_asides() {
        let long = "AGPL-3.0 (the package); MIT (the ISNet weights, per the package's ThirdPartyLicenses.json)";
        assert_eq!(super::short_licence(long), "AGPL-3.0; MIT");
        assert_eq!(super::short_licence("Apache-2.0"), "Apache-2.0");
    }
}
