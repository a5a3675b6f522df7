//! JSON bodies parsed strictly: a key given twice in one object is refused (422 naming it)
//! instead of the last one silently winning, since a client that sends two values for one field
//! cannot know which the studio used.

use std::fmt;

use figur_engine::{ApiError, ErrorCode, FieldError};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Marks our own error among serde's, so it can be told from a syntax error.
const DUPLICATE: &str = "\u{0}duplicate key:";

/// Parses `bytes` as one JSON value: 400 when it is not JSON, 422 on a duplicate key.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let not_json =
        |e: &dyn fmt::Display| ApiError::new(ErrorCode::BadRequest, format!("the body is not valid JSON: {e}"));
    match serde_path_to_error::deserialize::<_, NoDuplicates>(&mut de) {
        Ok(NoDuplicates(value)) => {
            de.end().map_err(|e| not_json(&e))?;
            Ok(value)
        }
        Err(e) => {
            let message = e.inner().to_string();
            match message.strip_prefix(DUPLICATE) {
                Some(rest) => {
                    let key = rest.split(" at line ").next().unwrap_or(rest);
                    let mut field =
                        FieldError::new("body", "", format!("the key `{key}` appears twice"), "duplicate_key");
                    // Indices stay integers and keys stay strings, whatever they look like.
                    field.loc.extend(e.path().iter().map(|seg| match seg {
                        serde_path_to_error::Segment::Seq { index } => Value::from(*index),
                        serde_path_to_error::Segment::Map { key } => Value::from(key.as_str()),
                        serde_path_to_error::Segment::Enum { variant } => Value::from(variant.as_str()),
                        serde_path_to_error::Segment::Unknown => Value::from("?"),
                    }));
                    field.loc.push(Value::from(key));
                    Err(ApiError::validation(vec![field]))
                }
                None => Err(not_json(&message)),
            }
        }
    }
}

/// A `serde_json::Value` that refuses duplicate keys while it is built.
struct NoDuplicates(Value);

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(NoDuplicates)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(NoDuplicates(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let NoDuplicates(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_by_name_and_place() {
        let e = parse(br#"{"a": 1, "b": {"c": [1, {"d": 1, "d": 2}]}}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(e.details[0].loc, serde_json::json!(["body", "b", "c", 1, "d"]).as_array().unwrap().clone());
        assert!(e.details[0].msg.contains("`d`"), "{}", e.details[0].msg);
        let top = parse(br#"{"seed": 1, "seed": 2}"#).unwrap_err();
        assert_eq!(top.details[0].loc, vec![Value::from("body"), Value::from("seed")]);
        let numeric = parse(br#"{"m": {"7": 1, "7": 2}}"#).unwrap_err();
        assert_eq!(numeric.details[0].loc, serde_json::json!(["body", "m", "7"]).as_array().unwrap().clone());
    }

    #[test]
    fn valid_json_is_kept_exactly_and_bad_json_is_a_400() {
        let text = br#"{"a": [1, -2, 3.5, "x", null, true], "b": {}}"#;
        assert_eq!(parse(text).unwrap(), serde_json::from_slice::<Value>(text).unwrap());
        assert_eq!(parse(b"{\"a\": ").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(parse(b"{} trailing").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(parse(br#"{"a": 1e400}"#).unwrap_err().code, ErrorCode::BadRequest);
    }
}
