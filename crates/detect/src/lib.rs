//! tarmac-detect: see DESIGN.md.
