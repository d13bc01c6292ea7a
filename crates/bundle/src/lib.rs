//! tarmac-bundle: see DESIGN.md.
