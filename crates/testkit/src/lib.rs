//! tarmac-testkit: see DESIGN.md.

pub mod fault_server;
pub mod nginx;
pub mod repo;
