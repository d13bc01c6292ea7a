//! tarmac-archive: see DESIGN.md.
