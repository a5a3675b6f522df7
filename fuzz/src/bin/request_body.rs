//! Untrusted request bodies through the strict JSON reader and every workflow's typed request
//! parser (the first byte picks the workflow). Neither may panic; a body that parses must come
//! out as a 422 or a request, never anything else.

use figur_engine::domain::operation::Operation;
use figur_engine::ErrorCode;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&pick, body)) = data.split_first() else { return };
        match figur_http::strict_json::parse(body) {
            Ok(value) => {
                let op = Operation::ALL[pick as usize % Operation::ALL.len()];
                if let Err(e) = figur_engine::domain::requests::WorkflowRequest::parse(op, value) {
                    assert_eq!(e.code, ErrorCode::ValidationError, "{e:?}");
                    assert!(!e.details.is_empty(), "a 422 names its field");
                }
            }
            Err(e) => assert!(matches!(e.code, ErrorCode::BadRequest | ErrorCode::ValidationError), "{e:?}"),
        }
    });
}
