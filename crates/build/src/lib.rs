//! tarmac-build: see DESIGN.md.
