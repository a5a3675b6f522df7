//! Writes the UI's typed bindings: `cargo run -p figur-desktop --example export_bindings`.

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");
    std::fs::write(path, figur_desktop::bindings()).expect("writing ui/src/bindings.ts");
    println!("{path}");
}
