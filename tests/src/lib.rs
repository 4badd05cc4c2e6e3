//! Cross-crate and end-to-end tests for nhs-portal live in `tests/tests/`.
