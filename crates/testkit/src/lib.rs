//! tarmac-testkit: see DESIGN.md.
