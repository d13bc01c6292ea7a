//! tarmac-testkit: see DESIGN.md.

pub mod hostile;
