//! Free text, as the hosted API takes it, read for the procedural engines. The hosted API's
//! descriptive fields (`scene_type`, `mood`, colours, `age_range`, `body_type`, `pattern`,
//! `material`, `length`…) are prompts for its generative models; here, without a generative
//! model, each is mapped to the nearest value the engines can draw — by its words, their
//! synonyms and its numbers — and the job's event says what was drawn when it is not what was
//! asked. Only a colour that names no colour at all and an age wholly under 18 are refused:
//! everything else plausible is drawn as something, and said.

use crate::color::{self, Rgb};

/// What will be drawn for a field's text, and whether that is exactly what it said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn<T> {
    pub value: T,
    /// The text named the value itself (`"studio_sweep"`, `"navy"`, `"26-35"`).
    pub exact: bool,
}

impl<T> Drawn<T> {
    fn exact(value: T) -> Self {
        Drawn { value, exact: true }
    }
    fn near(value: T) -> Self {
        Drawn { value, exact: false }
    }
}

/// The fields of a request drawn as something other than they said, `{field: {asked, drawn}}`
/// as events and provenance carry it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct DrawnAs(pub serde_json::Map<String, serde_json::Value>);

impl DrawnAs {
    /// Records `field` unless it was drawn exactly as asked.
    pub fn note(&mut self, field: &str, asked: &str, drawn: impl std::fmt::Display, exact: bool) {
        if !exact {
            self.0.insert(field.into(), serde_json::json!({ "asked": asked, "drawn": drawn.to_string() }));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `mood "calm" drawn as soft; scene_type "studio" drawn as studio_sweep`, or empty.
    pub fn sentence(&self) -> String {
        let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        let parts: Vec<String> =
            self.0.iter().map(|(f, v)| format!("{f} \"{}\" drawn as {}", text(v, "asked"), text(v, "drawn"))).collect();
        parts.join("; ")
    }

    /// The sentence after `; `, to append to a stage's message (empty when nothing to say).
    pub fn suffix(&self) -> String {
        match self.is_empty() {
            true => String::new(),
            false => format!("; {}", self.sentence()),
        }
    }
}

/// The most a descriptive field may hold.
pub const MAX_TEXT: usize = 200;

/// Lowercase words: letters, digits, `+` and `#` kept; everything else separates.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The text as one of `values` spelled loosely (`"Studio sweep"` → `studio_sweep`).
fn spelled<'a>(text: &str, values: &[&'a str]) -> Option<&'a str> {
    let key = words(text).join("_");
    values.iter().copied().find(|v| *v == key)
}

/// The value whose synonyms the text's words match most (the first on a tie), if any.
fn best<'a>(text: &str, table: &[(&'a str, &[&str])]) -> Option<&'a str> {
    let words = words(text);
    let mut best: Option<(&str, usize)> = None;
    for (value, synonyms) in table {
        let hits = words.iter().filter(|w| synonyms.contains(&w.as_str()) || w.as_str() == *value).count();
        if hits > 0 && best.is_none_or(|(_, n)| hits > n) {
            best = Some((value, hits));
        }
    }
    best.map(|(v, _)| v)
}

/// A loosely worded value: exactly one of `values`, else the best synonym match, else `fallback`.
fn pick<'a>(text: &str, values: &[&'a str], table: &[(&'a str, &[&str])], fallback: &'a str) -> Drawn<&'a str> {
    if let Some(v) = spelled(text, values) {
        return Drawn::exact(v);
    }
    Drawn::near(best(text, table).unwrap_or(fallback))
}

const SCENE_WORDS: &[(&str, &[&str])] = &[
    (
        "studio_sweep",
        &["studio", "sweep", "cyclorama", "cyc", "infinity", "seamless", "ecommerce", "packshot", "white"],
    ),
    (
        "gradient",
        &["gradient", "ombre", "fade", "abstract", "minimal", "minimalist", "smooth", "colour", "color", "sky"],
    ),
    ("paper", &["paper", "card", "cardboard", "kraft", "craft", "colorama", "backdrop"]),
    (
        "concrete",
        &[
            "concrete",
            "cement",
            "industrial",
            "urban",
            "street",
            "loft",
            "warehouse",
            "stone",
            "plaster",
            "wall",
            "brick",
            "city",
            "garage",
            "marble",
            "tile",
            "terrazzo",
        ],
    ),
    (
        "linen",
        &[
            "linen", "fabric", "cloth", "canvas", "textile", "drape", "draped", "curtain", "cotton", "muslin",
            "velvet", "silk",
        ],
    ),
];

/// A backdrop scene: the procedural generator draws `SCENES`; other places (a beach, a street
/// at night) are drawn as the nearest surface, or a studio sweep.
pub fn scene(text: &str) -> Drawn<&'static str> {
    pick(text, &super::backdrop::SCENES, SCENE_WORDS, "studio_sweep")
}

const MOOD_WORDS: &[(&str, &[&str])] = &[
    (
        "bright",
        &[
            "bright",
            "airy",
            "light",
            "sunny",
            "cheerful",
            "fresh",
            "clean",
            "vibrant",
            "summer",
            "daylight",
            "happy",
            "playful",
            "vivid",
            "colourful",
            "colorful",
        ],
    ),
    (
        "soft",
        &[
            "soft", "calm", "gentle", "serene", "quiet", "pastel", "dreamy", "relaxed", "peaceful", "tranquil",
            "muted", "delicate", "romantic", "spring",
        ],
    ),
    ("neutral", &["neutral", "natural", "balanced", "plain", "simple", "everyday", "classic", "timeless"]),
    (
        "warm",
        &[
            "warm",
            "cozy",
            "cosy",
            "golden",
            "sunset",
            "autumn",
            "fall",
            "earthy",
            "amber",
            "dusk",
            "candlelit",
            "sunlit",
        ],
    ),
    ("cool", &["cool", "cold", "icy", "winter", "crisp", "morning", "clinical", "nordic", "scandinavian", "frosty"]),
    (
        "moody",
        &[
            "moody",
            "dark",
            "dim",
            "brooding",
            "mysterious",
            "night",
            "evening",
            "shadowy",
            "atmospheric",
            "noir",
            "gloomy",
        ],
    ),
    (
        "dramatic",
        &[
            "dramatic",
            "bold",
            "contrast",
            "contrasty",
            "spotlight",
            "theatrical",
            "striking",
            "editorial",
            "intense",
            "cinematic",
            "luxury",
            "luxurious",
            "electric",
            "neon",
            "energetic",
            "party",
            "club",
        ],
    ),
];

/// A backdrop's mood (its light and grade).
pub fn mood(text: &str) -> Drawn<&'static str> {
    pick(text, &super::backdrop::MOODS, MOOD_WORDS, "neutral")
}

/// Colour words beyond the named palette, as the hex they are drawn with.
const MORE_COLOURS: &[(&str, &str)] = &[
    ("midnight", "#191970"),
    ("gold", "#C9A227"),
    ("golden", "#C9A227"),
    ("silver", "#C0C0C0"),
    ("tan", "#C19A6B"),
    ("khaki", "#BDB08A"),
    ("wine", "#6D1F2E"),
    ("maroon", "#6D1F2E"),
    ("violet", "#6A3D8F"),
    ("aqua", "#30B5B0"),
    ("turquoise", "#30B5B0"),
    ("ecru", "#F6F1E4"),
    ("offwhite", "#F6F1E4"),
    ("nude", "#E3BC9A"),
    ("denim", "#4F6D8F"),
    ("indigo", "#3F3D8F"),
    ("mauve", "#B784A7"),
    ("magenta", "#C2185B"),
    ("fuchsia", "#C2185B"),
    ("lemon", "#F2D64B"),
    ("lime", "#9CCB3B"),
    ("ochre", "#CC7722"),
    ("plum", "#5E2750"),
    ("rose", "#E8A0A8"),
    ("salmon", "#F08A6C"),
    ("cherry", "#C0282D"),
    ("oatmeal", "#D9C6A5"),
    ("espresso", "#4A2F23"),
    ("graphite", "#36393D"),
    ("charcoal", "#36393D"),
];

/// A colour word's hex: the named palette first, then the wider list.
fn colour_word(word: &str) -> Option<Rgb> {
    let plural = word.strip_suffix('s').unwrap_or(word);
    [word, plural].into_iter().find_map(|w| {
        color::NAMED.iter().chain(MORE_COLOURS).find(|(name, _)| *name == w).and_then(|(_, hex)| color::parse(hex))
    })
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    std::array::from_fn(|i| a[i] * (1.0 - t) + b[i] * t)
}

/// A colour: `#RRGGBB`, a palette name, or words — the last colour word is the hue (`"midnight
/// blue"` is a blue, darkened by `midnight`; `"dusty rose"` a rose), lightened by light, pale,
/// pastel, soft, dusty; darkened by dark, deep, midnight; an earlier colour word is mixed in
/// (`"blue green"`). `None`: the text names no colour at all.
pub fn colour(text: &str) -> Option<Drawn<Rgb>> {
    if let Some(rgb) = color::parse(text) {
        return Some(Drawn::exact(rgb));
    }
    let words = words(text);
    let hues: Vec<(usize, Rgb)> = words.iter().enumerate().filter_map(|(i, w)| Some((i, colour_word(w)?))).collect();
    let &(last, mut rgb) = hues.last()?;
    if let Some(&(_, first)) = hues.iter().rev().nth(1) {
        // Two hue words that are not just a modifier and its noun ("midnight blue" is the
        // exception: midnight darkens).
        if words[hues[hues.len() - 2].0] != "midnight" {
            rgb = mix(rgb, first, 0.35);
        }
    }
    for w in &words[..last] {
        rgb = match w.as_str() {
            "light" | "pale" | "pastel" | "soft" | "baby" => mix(rgb, [1.0; 3], 0.4),
            "dusty" | "muted" | "washed" => mix(rgb, [0.6; 3], 0.35),
            "dark" | "deep" | "midnight" => mix(rgb, [0.0; 3], 0.45),
            "bright" | "vivid" | "electric" | "neon" => {
                let mean = (rgb[0] + rgb[1] + rgb[2]) / 3.0;
                std::array::from_fn(|i| (mean + (rgb[i] - mean) * 1.4).clamp(0.0, 1.0))
            }
            _ => rgb,
        };
    }
    Some(Drawn::near(rgb))
}

/// The figure generator's age buckets.
pub const AGE_BUCKETS: [(&str, u32, u32); 5] =
    [("18-25", 18, 25), ("26-35", 26, 35), ("36-45", 36, 45), ("46-60", 46, 60), ("60+", 60, 90)];

/// Why an age range is refused.
pub const UNDER_AGE: &str = "the studio draws adults only: an age range of 18 or over";

/// An age range: the bucket overlapping the text's years most (`"25-34"` → 26-35, `"30s"` →
/// 26-35, `"40"` → 36-45), or the one its words mean (young, middle-aged, senior…). `Err`: the
/// years are all under 18.
pub fn age_range(text: &str) -> Result<Drawn<&'static str>, &'static str> {
    if let Some(b) = AGE_BUCKETS.iter().find(|b| b.0 == text.trim()) {
        return Ok(Drawn::exact(b.0));
    }
    let lower = text.to_lowercase();
    let numbers: Vec<u32> = lower
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .filter(|n| (1..=120).contains(n))
        .collect();
    let decade = lower.contains("0s") || lower.contains("0's");
    let span = match numbers.as_slice() {
        [] => None,
        [n] if decade => Some((*n, n + 9)),
        [n] if lower.contains('+') => Some((*n, 90)),
        [n] => Some((*n, *n)),
        [a, b, ..] => Some(((*a).min(*b), (*a).max(*b))),
    };
    if let Some((low, high)) = span {
        if high < 18 {
            return Err(UNDER_AGE);
        }
        let overlap = |(_, a, b): &(&str, u32, u32)| high.min(*b) as i64 - low.max(*a) as i64;
        let bucket = AGE_BUCKETS.iter().max_by_key(|b| (overlap(b), -(b.1 as i64))).map(|b| b.0).unwrap_or("26-35");
        return Ok(Drawn::near(bucket));
    }
    const AGE_WORDS: &[(&str, &[&str])] = &[
        ("18-25", &["young", "youthful", "twenties", "student", "gen", "z"]),
        ("26-35", &["adult", "thirties", "millennial"]),
        ("36-45", &["forties", "midlife"]),
        ("46-60", &["fifties", "middle", "aged", "mature"]),
        ("60+", &["senior", "older", "elderly", "sixties", "seventies", "silver", "grey", "gray", "retired"]),
    ];
    if words(text)
        .iter()
        .any(|w| ["teen", "teens", "teenage", "teenager", "child", "kid", "kids"].contains(&w.as_str()))
    {
        return Err(UNDER_AGE);
    }
    Ok(Drawn::near(best(text, AGE_WORDS).unwrap_or("26-35")))
}

const BODY_WORDS: &[(&str, &[&str])] = &[
    ("slim", &["slim", "slender", "thin", "petite", "lean", "skinny", "lithe", "willowy"]),
    ("average", &["average", "regular", "medium", "standard", "normal", "straight", "mid"]),
    ("athletic", &["athletic", "fit", "muscular", "sporty", "toned", "strong", "sportive", "runner"]),
    ("curvy", &["curvy", "hourglass", "voluptuous", "pear", "curvaceous", "shapely"]),
    ("plus", &["plus", "plus+", "large", "full", "fuller", "heavy", "big", "xl", "broad", "stocky"]),
];

/// A body type for the figure generator.
pub fn body_type(text: &str) -> Drawn<&'static str> {
    pick(text, &super::figure::BODY_TYPES, BODY_WORDS, "average")
}

const PATTERN_WORDS: &[(&str, &[&str])] = &[
    ("solid", &["solid", "plain", "block", "uni", "monochrome", "none"]),
    ("stripes", &["stripes", "stripe", "striped", "breton", "stripy", "marine"]),
    ("pinstripe", &["pinstripe", "pinstriped", "pin"]),
    ("checks", &["checks", "check", "checked", "plaid", "tartan", "buffalo", "windowpane", "flannel"]),
    ("gingham", &["gingham", "vichy"]),
    ("houndstooth", &["houndstooth", "dogtooth", "pied"]),
    ("polka_dots", &["polka", "dots", "dot", "dotted", "spots", "spotted"]),
    ("herringbone", &["herringbone", "chevron", "tweed"]),
    ("floral", &["floral", "flowers", "flower", "flowery", "botanical", "paisley", "liberty", "print", "printed"]),
];

/// A fabric pattern for the flat renderer.
pub fn pattern(text: &str) -> Drawn<&'static str> {
    pick(text, &super::flats::fabric::PATTERNS, PATTERN_WORDS, "solid")
}

const MATERIAL_WORDS: &[(&str, &[&str])] = &[
    ("cotton", &["cotton", "poplin", "jersey", "twill", "canvas", "organic", "oxford", "chino", "seersucker"]),
    ("denim", &["denim", "jean", "jeans", "chambray", "selvedge"]),
    (
        "knit",
        &["knit", "knitted", "knitwear", "cable", "rib", "ribbed", "cashmere", "merino", "mohair", "fleece", "sweater"],
    ),
    ("leather", &["leather", "suede", "nappa", "vegan", "faux", "patent", "pu"]),
    ("satin", &["satin", "sateen", "charmeuse", "polyester", "nylon", "viscose", "rayon", "shiny"]),
    ("linen", &["linen", "flax", "hemp", "ramie"]),
    ("wool", &["wool", "woolen", "woollen", "tweed", "flannel", "felt", "gabardine", "boucle", "melton"]),
    ("silk", &["silk", "silky", "chiffon", "crepe", "georgette", "organza", "velvet", "tulle"]),
];

/// A material for the flat renderer.
pub fn material(text: &str) -> Drawn<&'static str> {
    pick(text, &super::flats::fabric::MATERIALS, MATERIAL_WORDS, "cotton")
}

const LENGTH_WORDS: &[(&str, &[&str])] = &[
    ("cropped", &["cropped", "crop", "boxy", "ankle"]),
    ("short", &["short", "mini", "shorts", "hip"]),
    ("regular", &["regular", "standard", "classic", "normal"]),
    ("knee", &["knee", "knees"]),
    ("midi", &["midi", "calf", "tea", "mid"]),
    ("long", &["long", "full", "floor", "tall"]),
    ("maxi", &["maxi", "gown"]),
];

/// A garment's length for the flat renderer.
pub fn length(text: &str) -> Drawn<&'static str> {
    pick(text, &super::flats::shape::LENGTH_WORDS, LENGTH_WORDS, "regular")
}

/// A cut's fit (`slim`, `regular`, `loose`).
pub fn fit(text: &str) -> Drawn<&'static str> {
    const FITS: [&str; 3] = ["slim", "regular", "loose"];
    const FIT_WORDS: &[(&str, &[&str])] = &[
        ("slim", &["slim", "skinny", "fitted", "tight", "tailored", "narrow", "close", "bodycon", "form"]),
        ("regular", &["regular", "classic", "standard", "straight", "normal", "true"]),
        (
            "loose",
            &["loose", "relaxed", "oversized", "baggy", "wide", "boxy", "flowy", "roomy", "boyfriend", "slouchy"],
        ),
    ];
    pick(text, &FITS, FIT_WORDS, "regular")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_and_moods_from_free_text() {
        // (asked, drawn, exact)
        let scenes = [
            ("studio_sweep", "studio_sweep", true),
            ("Studio Sweep", "studio_sweep", true),
            ("studio", "studio_sweep", false),
            ("white seamless backdrop", "studio_sweep", false),
            ("raw concrete loft", "concrete", false),
            ("urban street at night", "concrete", false),
            ("draped linen", "linen", false),
            ("kraft paper", "paper", false),
            ("soft ombre", "gradient", false),
            ("a beach at dusk", "studio_sweep", false),
            ("marble bathroom", "concrete", false),
        ];
        for (asked, drawn, exact) in scenes {
            assert_eq!(scene(asked), Drawn { value: drawn, exact }, "{asked}");
        }
        let moods = [
            ("soft", "soft", true),
            ("calm", "soft", false),
            ("golden hour", "warm", false),
            ("dark and brooding", "moody", false),
            ("high-contrast editorial", "dramatic", false),
            ("crisp winter morning", "cool", false),
            ("airy", "bright", false),
            ("electric", "dramatic", false),
            ("whatever", "neutral", false),
        ];
        for (asked, drawn, exact) in moods {
            assert_eq!(mood(asked), Drawn { value: drawn, exact }, "{asked}");
        }
    }

    #[test]
    fn colours_from_names_hexes_and_words() {
        let hex = |t: &str| colour(t).map(|d| (color::to_hex(d.value), d.exact));
        assert_eq!(hex("navy"), Some(("#1F2A44".into(), true)));
        assert_eq!(hex("#1f2a44"), Some(("#1F2A44".into(), true)));
        assert_eq!(hex("Navy"), Some(("#1F2A44".into(), true)));
        // midnight blue: blue darkened.
        let (midnight, exact) = hex("midnight blue").unwrap();
        assert!(!exact);
        let rgb = color::parse(&midnight).unwrap();
        assert!(rgb[2] > rgb[0] && rgb[2] < 0.5, "{midnight}");
        // pale pink is lighter than pink; a plural and a wider word are read.
        let pale = colour("pale pink").unwrap().value;
        let pink = colour("pink").unwrap().value;
        assert!(pale.iter().sum::<f32>() > pink.iter().sum::<f32>());
        assert!(colour("greens").is_some() && colour("dusty rose").is_some() && colour("gold").is_some());
        assert_eq!(colour("banana-ish vibes"), None);
        assert_eq!(colour(""), None);
    }

    #[test]
    fn ages_to_buckets_and_adults_only() {
        let cases = [
            ("26-35", "26-35", true),
            ("25-34", "26-35", false),
            ("30s", "26-35", false),
            ("40", "36-45", false),
            ("45-54", "46-60", false),
            ("65+", "60+", false),
            ("18 to 24", "18-25", false),
            ("young adult", "18-25", false),
            ("middle-aged", "46-60", false),
            ("senior", "60+", false),
            ("ageless", "26-35", false),
        ];
        for (asked, drawn, exact) in cases {
            assert_eq!(age_range(asked), Ok(Drawn { value: drawn, exact }), "{asked}");
        }
        for minor in ["12", "10-15", "teen", "kids"] {
            assert_eq!(age_range(minor), Err(UNDER_AGE), "{minor}");
        }
    }

    #[test]
    fn bodies_patterns_materials_and_fits() {
        assert_eq!(body_type("curvy"), Drawn { value: "curvy", exact: true });
        assert_eq!(body_type("petite"), Drawn { value: "slim", exact: false });
        assert_eq!(body_type("plus size"), Drawn { value: "plus", exact: false });
        assert_eq!(body_type("muscular"), Drawn { value: "athletic", exact: false });
        assert_eq!(pattern("polka dots"), Drawn { value: "polka_dots", exact: true });
        assert_eq!(pattern("breton stripe"), Drawn { value: "stripes", exact: false });
        assert_eq!(pattern("tartan"), Drawn { value: "checks", exact: false });
        assert_eq!(material("cashmere"), Drawn { value: "knit", exact: false });
        assert_eq!(material("raw selvedge denim"), Drawn { value: "denim", exact: false });
        assert_eq!(fit("oversized"), Drawn { value: "loose", exact: false });
        assert_eq!(fit("slim"), Drawn { value: "slim", exact: true });
    }
}
