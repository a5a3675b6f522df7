//! The prompts workflows give a diffusion model, built from the request's own words (free
//! text goes into the prompt as it was written: that is what the hosted API's fields are for),
//! with the studio's negative prompt. Each builder's output for representative requests is
//! pinned by a test: a change here changes pictures.

/// What no studio picture should show.
pub const STUDIO_NEGATIVE: &str =
    "text, watermark, logo, signature, frame, border, blurry, low quality, jpeg artifacts, deformed, distorted";

/// A prompt and its negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub prompt: String,
    pub negative: String,
}

/// `a`, `a and b`, `a, b and c`.
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `background-generator`: an empty set for fashion photography.
pub fn backdrop(scene_type: &str, mood: &str, colors: &[String]) -> Prompt {
    let colours = match colors {
        [] => String::new(),
        some => format!(", in {}", listed(some)),
    };
    Prompt {
        prompt: format!(
            "empty backdrop for fashion photography, {}, {} mood{colours}, no people, \
             professional studio photograph, even soft light, high detail",
            scene_type.trim(),
            mood.trim()
        ),
        negative: format!("people, person, model, mannequin, furniture clutter, {STUDIO_NEGATIVE}"),
    }
}

/// `model-generator`: one person, head to toe, facing the camera, on a plain ground (what the
/// pose check then asks of the picture).
pub fn fashion_model(female: bool, ethnicity: &str, body_type: &str, age_range: &str) -> Prompt {
    let person = if female { "woman" } else { "man" };
    let ethnicity = match ethnicity.trim() {
        "" => String::new(),
        e => format!("{} ", e.replace('_', " ")),
    };
    Prompt {
        prompt: format!(
            "full-body photograph of one {ethnicity}{person} fashion model, age {}, {} build, standing \
             facing the camera, arms relaxed, whole body from head to feet in frame, plain light grey \
             studio background, simple fitted neutral clothes, professional fashion photography, sharp focus",
            age_range.trim(),
            body_type.trim()
        ),
        negative: format!(
            "cropped, out of frame, cut off feet, cut off head, close-up, two people, crowd, extra limbs, \
             back view, side view, {STUDIO_NEGATIVE}"
        ),
    }
}

/// Try-on refinement: the person wearing the fitted garments, each named by its colour and
/// category (`navy t-shirt`), with folds and drape; the negative keeps the old clothes and
/// extra garments out.
pub fn refine(garments: &[(&str, &str)]) -> Prompt {
    let worn: Vec<String> = garments.iter().map(|(colour, category)| format!("{colour} {category}")).collect();
    Prompt {
        prompt: format!(
            "photograph of a person wearing a {}, natural fabric folds and drape, fitted to the body, \
             realistic lighting and shadows, professional fashion photography, sharp focus",
            listed(&worn)
        ),
        negative: format!(
            "extra clothing, layered garments, old clothes showing, bare skin patches, {STUDIO_NEGATIVE}"
        ),
    }
}

/// Background-swap harmonisation: the same picture, its subject lit by the new scene.
pub fn harmonize(scene: &str) -> Prompt {
    let scene = match scene.trim() {
        "" => String::new(),
        s => format!(" in a {s} setting"),
    };
    Prompt {
        prompt: format!(
            "professional fashion photograph of a person{scene}, consistent natural lighting on the subject and \
             the background, soft contact shadows, seamless edges, sharp focus"
        ),
        negative: format!("halo, cutout edge, outline, mismatched lighting, {STUDIO_NEGATIVE}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refine_and_harmonize_prompts_read_as_written() {
        let p = refine(&[("navy", "t-shirt"), ("sand", "pants")]);
        assert_eq!(
            p.prompt,
            "photograph of a person wearing a navy t-shirt and sand pants, natural fabric folds and drape, fitted \
             to the body, realistic lighting and shadows, professional fashion photography, sharp focus"
        );
        assert!(p.negative.starts_with("extra clothing, layered garments, old clothes showing"));
        assert!(p.negative.ends_with(STUDIO_NEGATIVE));
        let h = harmonize("raw concrete loft");
        assert_eq!(
            h.prompt,
            "professional fashion photograph of a person in a raw concrete loft setting, consistent natural \
             lighting on the subject and the background, soft contact shadows, seamless edges, sharp focus"
        );
        assert!(harmonize(" ").prompt.starts_with("professional fashion photograph of a person, consistent"));
    }

    #[test]
    fn model_prompts_read_as_written() {
        let p = fashion_model(true, "south_asian", "petite", "25-34");
        assert_eq!(
            p.prompt,
            "full-body photograph of one south asian woman fashion model, age 25-34, petite build, standing \
             facing the camera, arms relaxed, whole body from head to feet in frame, plain light grey studio \
             background, simple fitted neutral clothes, professional fashion photography, sharp focus"
        );
        assert!(fashion_model(false, "", "athletic", "40")
            .prompt
            .starts_with("full-body photograph of one man fashion model, age 40, athletic build"));
        assert!(p.negative.starts_with("cropped, out of frame, cut off feet") && p.negative.ends_with(STUDIO_NEGATIVE));
    }

    #[test]
    fn backdrop_prompts_read_as_written() {
        let p = backdrop("raw concrete loft", "moody", &["charcoal".into(), "rust".into()]);
        assert_eq!(
            p.prompt,
            "empty backdrop for fashion photography, raw concrete loft, moody mood, in charcoal and rust, \
             no people, professional studio photograph, even soft light, high detail"
        );
        assert_eq!(
            p.negative,
            "people, person, model, mannequin, furniture clutter, text, watermark, logo, signature, frame, \
             border, blurry, low quality, jpeg artifacts, deformed, distorted"
        );
        let p = backdrop(" studio ", "calm", &[]);
        assert!(p.prompt.starts_with("empty backdrop for fashion photography, studio, calm mood, no people"));
        let three = backdrop("paper", "warm", &["sand".into(), "sage".into(), "#1F2A44".into()]);
        assert!(three.prompt.contains(", in sand, sage and #1F2A44,"), "{}", three.prompt);
    }
}
