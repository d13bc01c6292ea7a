//! Package ids: `name--version`, exactly as pkgpanda defines them.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid package id, name or version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("invalid package id {0:?}: must be name--version with exactly one \"--\"")]
    Separator(String),
    #[error("invalid package name {0:?}: must match ^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$, not contain \"--\" and not end with \"-\"")]
    Name(String),
    #[error("invalid package version {0:?}: must match ^[a-zA-Z0-9@_+:.]+$")]
    Version(String),
}

/// A validated package id `name--version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageId {
    name: String,
    version: String,
}

impl PackageId {
    /// Builds an id from its parts, validating both.
    pub fn new(name: &str, version: &str) -> Result<Self, IdError> {
        validate_name(name)?;
        validate_version(version)?;
        Ok(PackageId {
            name: name.to_string(),
            version: version.to_string(),
        })
    }

    pub fn parse(id: &str) -> Result<Self, IdError> {
        let mut parts = id.split("--");
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(version), None) => PackageId::new(name, version),
            _ => Err(IdError::Separator(id.to_string())),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Checks a package name: `^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$` without `--`,
/// and not ending in `-`: `a-` + `--` + `1` is `a---1`, which splits into
/// `a` and `-1`, so such a name could never be read back from its id
/// (pkgpanda has the same hole; found by crates/model/tests/fuzz.rs).
pub fn validate_name(name: &str) -> Result<(), IdError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || "@_+".contains(c));
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "@._+-".contains(c));
    if first_ok && rest_ok && !name.contains("--") && !name.ends_with('-') {
        Ok(())
    } else {
        Err(IdError::Name(name.to_string()))
    }
}

/// Checks a package version: `^[a-zA-Z0-9@_+:.]+$`.
pub fn validate_version(version: &str) -> Result<(), IdError> {
    let ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@_+:.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IdError::Version(version.to_string()))
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}--{}", self.name, self.version)
    }
}

impl FromStr for PackageId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageId::parse(s)
    }
}

impl serde::Serialize for PackageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PackageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PackageId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pkgpanda_ids() {
        let id = PackageId::parse("mesos--0.22.0").unwrap();
        assert_eq!((id.name(), id.version()), ("mesos", "0.22.0"));
        assert_eq!(id.to_string(), "mesos--0.22.0");
        PackageId::parse("dcos-config--setup_abc123").unwrap();
        PackageId::parse("a@b+c--1:2.3_4").unwrap();
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "mesos", "mesos--", "--1", "a--b--c", "a---b", "-a--1", ".a--1", "a b--1", "a--1 2",
            "a--1\n", "a/b--1", "a--1/2", "",
        ] {
            assert!(PackageId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// Regression (fuzz): a name ending in `-` gives an id that does not
    /// parse back, so it is refused when the id is built.
    #[test]
    fn name_ending_in_dash_is_refused() {
        assert_eq!(
            PackageId::new("a-", "1"),
            Err(IdError::Name("a-".to_string()))
        );
        assert!(validate_name("a-").is_err());
        assert!(validate_name("a-b").is_ok());
        let id = PackageId::new("a-b", "1").unwrap();
        assert_eq!(PackageId::parse(&id.to_string()), Ok(id));
    }
}
