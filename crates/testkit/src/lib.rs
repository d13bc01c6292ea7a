//! tarmac-testkit: what the tests share (docs/architecture.md, and
//! crates/README.md for the map): fixture packages and repositories, nginx,
//! the fault server, hostile archives, loop-mounted disks, a test CA, one
//! command runner ([`cmd`]), one simulated host ([`host`]), one tree copy
//! ([`tree`]) and one kill-at-a-random-point ([`kill`]).

pub mod cmd;
pub mod disk;
pub mod fault_server;
pub mod host;
pub mod hostile;
pub mod kill;
pub mod nginx;
pub mod packages;
pub mod repo;
pub mod tls;
pub mod tree;

/// The environment variable that makes a missing test prerequisite (root,
/// mkfs.ext4, ...) a failure instead of a skip. `.ci/run` sets it, so CI can
/// never pass by skipping.
pub const REQUIRE_ALL: &str = "TARMAC_REQUIRE_ALL";

/// A test that cannot run here (`reason`: what is missing) says so and is
/// skipped; under `TARMAC_REQUIRE_ALL=1` it fails instead.
pub fn skip(reason: &str) {
    skip_or_fail(reason, std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1"));
}

fn skip_or_fail(reason: &str, require_all: bool) {
    assert!(
        !require_all,
        "prerequisite missing: {reason} ({REQUIRE_ALL}=1: a skip is a failure)"
    );
    eprintln!("skipped: {reason}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_a_failure_when_everything_is_required() {
        skip_or_fail("nothing", false);
        let failed = std::panic::catch_unwind(|| skip_or_fail("root", true));
        assert!(failed.is_err());
    }
}
