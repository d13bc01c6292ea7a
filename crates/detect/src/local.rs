//! The addresses assigned to this host's interfaces (getifaddrs(3)), for the
//! require-local check: an answer no interface holds is a typo or a NAT
//! address, and a cluster built on it cannot talk to itself.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::Error;

/// Every IPv4 and IPv6 address of every interface, loopback included.
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, Error> {
    let mut addresses = BTreeSet::new();
    for interface in nix::ifaddrs::getifaddrs().map_err(Error::Interfaces)? {
        let Some(address) = interface.address else {
            continue;
        };
        if let Some(v4) = address.as_sockaddr_in() {
            addresses.insert(IpAddr::V4(v4.ip()));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            addresses.insert(IpAddr::V6(v6.ip()));
        }
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed() {
        let addresses = local_addresses().unwrap();
        assert!(addresses.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
    }
}
