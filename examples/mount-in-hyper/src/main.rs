//! Mounting nhs-portal in your own hyper server. Run with: `cargo run -p nhs-portal-example-mount`.
fn main() {}
