//! Untrusted image bytes through everything that reads them: the upload check (type sniffing,
//! JPEG structure, row-by-row PNG, budgeted decodes) and the decoder jobs use. Neither may
//! panic, hang or allocate past its limits; whatever the upload check accepts, a job must be
//! able to decode. `fuzz_nohook`: a panic inside a third-party decoder is caught by the studio
//! (`upload::guarded`) and is its answer, not a crash; any panic that escapes still aborts.

use std::sync::Arc;

use figur_engine::budget::MemoryBudget;

fn main() {
    // A small budget: a declared size past it waits at most the check's timeout, so inputs
    // that would need more are refused rather than allocated.
    let budget: Arc<MemoryBudget> = MemoryBudget::new(256 << 20);
    afl::fuzz_nohook!(|data: &[u8]| {
        let accepted = figur_engine::upload::inspect(data, &budget);
        let decoded = figur_pixels::vision::decode::decode(data);
        if let Ok(shown) = &accepted {
            let rgb = decoded.unwrap_or_else(|e| panic!("the upload check accepted what a job cannot read: {e:?}"));
            assert_eq!((rgb.width(), rgb.height()), (shown.width, shown.height), "sizes disagree");
        }
        let _ = figur_pixels::format::jpeg_is_complete(data);
    });
}
