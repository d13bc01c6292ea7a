//! tarmac-fetch: see DESIGN.md.
