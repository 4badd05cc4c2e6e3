//! The reference portal. Run with: `cargo run --release -p nhs-portal-example`.
fn main() {}
