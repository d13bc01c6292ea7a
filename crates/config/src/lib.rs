//! tarmac-config: see DESIGN.md.
