//! The console's and the portal's files (`console/`, `portal-ui/`) are embedded in the
//! binary by `include_dir!`, which on stable Rust does not tell cargo about them: this
//! makes any change under either rebuild the crate, so the binary never serves stale
//! pages.

fn main() {
    println!("cargo:rerun-if-changed=console");
    println!("cargo:rerun-if-changed=portal-ui");
}
