//! tarmac-testkit: see DESIGN.md.

pub mod hostile;
pub mod packages;
