//! Integration tests: each module runs one tool's real binary against temp
//! roots (and real HTTP servers where the tool downloads).

mod cfg_gen;
mod cloud_init;
mod delta;
mod e2e;
mod emergency;
mod fleet;
mod generated;
mod host_extract;
mod host_extract_tls;
mod integrations;
mod ip_detect_run;
mod make;
mod parallel_extract;
mod pkg_activate;
mod pkg_build;
mod pkg_bundle;
mod reliability;
mod repository;
mod rolling_upgrade;
mod static_build;
mod workspace;
