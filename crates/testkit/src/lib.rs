//! tarmac-testkit: see docs/architecture.md.

pub mod disk;
pub mod fault_server;
pub mod hostile;
pub mod nginx;
pub mod packages;
pub mod repo;
pub mod tls;
