//! The CLIP tokenizer of an export, built from its `tokenizer/` files with the `tokenizers`
//! crate exactly as `transformers` converts `CLIPTokenizer` to a fast tokenizer
//! (`convert_slow_tokenizer.CLIPConverter`): NFC, runs of whitespace to one space, lowercase;
//! split into CLIP's words; byte-level BPE with `</w>` ending each word; the start and end
//! tokens around; truncated and padded to the text encoder's length.

use std::path::Path;

use serde_json::Value;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as Normalizers, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizers;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{
    AddedToken, PaddingDirection, PaddingParams, PaddingStrategy, SplitDelimiterBehavior, Tokenizer,
    TruncationDirection, TruncationParams, TruncationStrategy,
};

/// CLIP's word pattern (`CLIPConverter`): contractions, letter runs, single digits, runs of
/// anything else that is not a space.
const WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// A tokenizer that turns a prompt into the text encoder's `input_ids`.
pub struct ClipTokenizer {
    inner: Tokenizer,
    /// Every prompt becomes this many ids (the text encoder's sequence length).
    pub length: usize,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer").field("length", &self.length).finish_non_exhaustive()
    }
}

/// A special token's text in `tokenizer_config.json` / `special_tokens_map.json`: a string, or
/// an object with `content`.
fn token_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl ClipTokenizer {
    /// From `dir` (`vocab.json`, `merges.txt`, optional `tokenizer_config.json` and
    /// `special_tokens_map.json`). `length`: the text encoder's sequence length when its graph
    /// fixes one, else the config's `model_max_length` (77 when absent or unbounded).
    pub fn from_dir(dir: &Path, length: Option<usize>) -> Result<ClipTokenizer, String> {
        let read_json = |name: &str| -> Result<Value, String> {
            let path = dir.join(name);
            if !path.is_file() {
                return Ok(Value::Null);
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("tokenizer/{name}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("tokenizer/{name} is not JSON: {e}"))
        };
        let config = read_json("tokenizer_config.json")?;
        let special = read_json("special_tokens_map.json")?;
        let named = |key: &str, default: &str| {
            config
                .get(key)
                .and_then(token_text)
                .or_else(|| special.get(key).and_then(token_text))
                .unwrap_or(default.into())
        };
        let (bos, eos, unk) = (
            named("bos_token", "<|startoftext|>"),
            named("eos_token", "<|endoftext|>"),
            named("unk_token", "<|endoftext|>"),
        );
        let pad = named("pad_token", &eos);
        let length = length.unwrap_or_else(|| match config.get("model_max_length").and_then(Value::as_f64) {
            Some(n) if (2.0..=1024.0).contains(&n) => n as usize,
            _ => 77,
        });

        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let bpe = BPE::from_file(&path("vocab.json"), &path("merges.txt"))
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix("</w>".into())
            .unk_token(unk)
            .fuse_unk(false)
            .build()
            .map_err(|e| format!("tokenizer/vocab.json and merges.txt cannot be read as a BPE vocabulary: {e}"))?;
        let mut inner = Tokenizer::new(bpe);
        let whitespace = Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()), " ")
            .map_err(|e| e.to_string())?;
        inner
            .with_normalizer(Some(Normalizers::new(vec![NFC.into(), whitespace.into(), Lowercase.into()])))
            .map_err(|e| e.to_string())?;
        let split = Split::new(SplitPattern::Regex(WORDS.into()), SplitDelimiterBehavior::Removed, true)
            .map_err(|e| e.to_string())?;
        inner
            .with_pre_tokenizer(Some(PreTokenizers::new(vec![split.into(), ByteLevel::new(false, true, true).into()])));
        inner
            .add_special_tokens([AddedToken::from(bos.clone(), true), AddedToken::from(eos.clone(), true)])
            .map_err(|e| e.to_string())?;
        let id = |t: &str| inner.token_to_id(t).ok_or_else(|| format!("tokenizer/vocab.json has no `{t}`"));
        let (bos_id, eos_id, pad_id) = (id(&bos)?, id(&eos)?, id(&pad)?);
        inner.with_post_processor(Some(
            RobertaProcessing::new((eos, eos_id), (bos, bos_id)).trim_offsets(false).add_prefix_space(false),
        ));
        inner
            .with_truncation(Some(TruncationParams {
                max_length: length,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                stride: 0,
            }))
            .map_err(|e| e.to_string())?;
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(length),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: pad,
        }));
        Ok(ClipTokenizer { inner, length })
    }

    /// The ids of `text`, start and end tokens included, exactly [`ClipTokenizer::length`] long.
    pub fn ids(&self, text: &str) -> Result<Vec<i64>, String> {
        let encoding = self.inner.encode(text, true).map_err(|e| format!("cannot tokenize the prompt: {e}"))?;
        Ok(encoding.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// How many tokens `text` has before truncation (start and end included), to say when a
    /// prompt was cut.
    pub fn count(&self, text: &str) -> usize {
        let mut plain = self.inner.clone();
        plain.with_truncation(None).ok();
        plain.with_padding(None);
        plain.encode(text, true).map(|e| e.get_ids().len()).unwrap_or(0)
    }
}

/// A vocabulary in CLIP's construction, for tests and tiny exports: every byte (in the
/// byte-level alphabet) alone and ending a word, then each merge's result, then the start and
/// end tokens. Returns `vocab.json` and `merges.txt` text.
pub fn clip_style_vocab(merges: &[(&str, &str)]) -> (String, String) {
    // CLIP's byte alphabet in its order (`bytes_to_unicode().values()`): the printable bytes
    // stand for themselves and the rest were given 256, 257, … in byte order, so the order is
    // the characters' own.
    let mut chars: Vec<char> = ByteLevel::alphabet().into_iter().collect();
    chars.sort_unstable();
    let mut tokens: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
    tokens.extend(chars.iter().map(|c| format!("{c}</w>")));
    tokens.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
    tokens.push("<|startoftext|>".into());
    tokens.push("<|endoftext|>".into());
    let vocab: serde_json::Map<String, Value> =
        tokens.into_iter().enumerate().map(|(i, t)| (t, Value::from(i as u64))).collect();
    let mut merges_txt = String::from("#version: 0.2\n");
    for (a, b) in merges {
        merges_txt.push_str(&format!("{a} {b}\n"));
    }
    (Value::Object(vocab).to_string(), merges_txt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(merges: &[(&str, &str)], config: &str) -> (tempfile::TempDir, ClipTokenizer) {
        let dir = tempfile::tempdir().unwrap();
        let (vocab, merges) = clip_style_vocab(merges);
        std::fs::write(dir.path().join("vocab.json"), vocab).unwrap();
        std::fs::write(dir.path().join("merges.txt"), merges).unwrap();
        std::fs::write(dir.path().join("tokenizer_config.json"), config).unwrap();
        let t = ClipTokenizer::from_dir(dir.path(), None).unwrap();
        (dir, t)
    }

    /// The id of a printable ASCII character in CLIP's byte alphabet.
    fn ch(c: char) -> i64 {
        c as i64 - 33
    }

    #[test]
    fn words_are_merged_lowercased_bracketed_and_padded() {
        // Ids: the byte alphabet (printable ASCII c is c − 33), then the same with </w>
        // (256..512), then the merges in order (512, 513, 514), start 515, end 516.
        let merges = [("r", "e"), ("re", "d</w>"), ("a", "t</w>")];
        let (_dir, t) = tokenizer(&merges, r#"{"model_max_length": 8}"#);
        assert_eq!(t.length, 8);
        // "RED  hat!": lowercased, one space; "red" → re + d</w> → "red</w>" (513); "hat" →
        // h + at</w> (514); "!" a word of its own: "!</w>" = 256 + 0.
        let ids = t.ids("RED  hat!").unwrap();
        assert_eq!(ids, vec![515, 513, ch('h'), 514, 256, 516, 516, 516]);
        // Too long: cut to the length, the end token kept.
        let long = t.ids("a b c d e f g h i").unwrap();
        assert_eq!(long.len(), 8);
        assert_eq!((long[0], long[7]), (515, 516));
        assert_eq!(long[1], 256 + ch('a'));
        assert_eq!(t.count("a b c d e f g h i"), 11);
    }

    #[test]
    fn the_pad_token_comes_from_the_config() {
        // SD 2.x pads with "!", id 0 as in CLIP's vocabulary.
        let (_dir, t) = tokenizer(&[], r#"{"model_max_length": 5, "pad_token": {"content": "!"}}"#);
        assert_eq!(t.ids("a").unwrap(), vec![512, 256 + ch('a'), 513, 0, 0]);
    }

    #[test]
    fn a_missing_vocabulary_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = ClipTokenizer::from_dir(dir.path(), Some(77)).unwrap_err();
        assert!(e.contains("vocab.json"), "{e}");
    }
}
