//! The UI's checked-in bindings are exactly what the Rust commands export: a drift fails here.
//! After changing a command or a type: `cargo run -p figur-desktop --example export_bindings`.

#[test]
fn checked_in_bindings_match_the_commands() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");
    let checked_in = std::fs::read_to_string(path).expect("ui/src/bindings.ts");
    assert!(
        figur_desktop::bindings() == checked_in,
        "ui/src/bindings.ts is stale: run `cargo run -p figur-desktop --example export_bindings`"
    );
}
