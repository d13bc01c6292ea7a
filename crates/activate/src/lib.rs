//! tarmac-activate: see DESIGN.md.
