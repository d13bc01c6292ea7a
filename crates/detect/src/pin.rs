//! The pin file: the first accepted address, recorded once.
//!
//! Invariant: the pin file, once it exists, never changes. It is created by
//! [`tarmac_fs::write_new`] (a fsynced temp file hard-linked to the final
//! name): link(2) fails if the name exists, so when two runs race, exactly
//! one answer is recorded and the other run compares against it.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;
use tarmac_fs::FsError;

use crate::Error;

/// What a run did with the pin file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// No pin existed; this answer is now recorded.
    Recorded,
    /// The pin existed and holds this answer.
    Matched,
}

pub fn read(path: &Path) -> Result<Option<IpAddr>, Error> {
    let content = match fs::read(path) {
        Ok(content) => content,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::new("read", path, e).into()),
    };
    let text = String::from_utf8_lossy(&content);
    text.trim_end()
        .parse()
        .map(Some)
        .map_err(|_| Error::PinCorrupt {
            pin: path.to_path_buf(),
            content: crate::answer::quote(&content),
        })
}

pub fn check_or_record(path: &Path, address: IpAddr) -> Result<PinState, Error> {
    if let Some(pinned) = read(path)? {
        return compare(path, pinned, address);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tarmac_fs::create_dir_all(parent)?;
    if tarmac_fs::write_new(path, format!("{address}\n").as_bytes())? {
        return Ok(PinState::Recorded);
    }
    // Another run recorded its answer first: that one is the pin.
    match read(path)? {
        Some(pinned) => compare(path, pinned, address),
        None => Err(FsError::new("link", path, io::ErrorKind::AlreadyExists.into()).into()),
    }
}

fn compare(path: &Path, pinned: IpAddr, detected: IpAddr) -> Result<PinState, Error> {
    if pinned == detected {
        Ok(PinState::Matched)
    } else {
        Err(Error::PinMismatch {
            pin: path.to_path_buf(),
            pinned,
            detected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_answer_is_recorded_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("sub/ip");
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(check_or_record(&pin, a).unwrap(), PinState::Recorded);
        assert_eq!(fs::read_to_string(&pin).unwrap(), "10.0.0.1\n");
        assert_eq!(check_or_record(&pin, a).unwrap(), PinState::Matched);
        assert!(matches!(
            check_or_record(&pin, b),
            Err(Error::PinMismatch { .. })
        ));
        assert_eq!(fs::read_to_string(&pin).unwrap(), "10.0.0.1\n");
        let leftovers: Vec<_> = fs::read_dir(pin.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn corrupt_pin_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("ip");
        fs::write(&pin, "garbage").unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(matches!(
            check_or_record(&pin, a),
            Err(Error::PinCorrupt { .. })
        ));
    }
}
