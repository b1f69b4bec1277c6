//! The console's files (`console/`) are embedded in the binary by `include_dir!`,
//! which on stable Rust does not tell cargo about them: this makes any change under
//! `console/` rebuild the crate, so the binary never serves stale pages.

fn main() {
    println!("cargo:rerun-if-changed=console");
}
