//! Reading one regular file out of an archive without extracting it (e.g. a
//! package's `pkginfo.json` while bundling).
//!
//! Invariant: the entries read on the way are framed by the strict tar
//! reader and their names checked by the extraction policy, so a member is
//! found only under the one name the extractor would give it; its size is
//! bounded before anything is allocated. The rest of the archive is not
//! checked: callers that need the whole archive verified do that separately
//! (tree hash against the manifest, e.g. `ArchiveWriter::add_archive`).

use std::io::{BufReader, Read};

use crate::container::{self, SourceFailure};
use crate::error::{Error, Result};
use crate::extract::{classify, Kind};
use crate::tar_read::TarReader;

/// The bytes of the regular file `path` (archive-relative, no leading `./`)
/// in the archive read from `reader` (any container the extractor reads),
/// or `None` when the archive has no such entry. Reading stops at the
/// member. A member larger than `max` bytes is refused (exit 3), as is an
/// entry of that name that is not a regular file.
pub fn read_member<R: Read + Send>(reader: R, path: &str, max: u64) -> Result<Option<Vec<u8>>> {
    let failure = SourceFailure::default();
    let (container, decoded) = container::open(
        BufReader::new(reader),
        &failure,
        container::Checksums::Verify,
    )?;
    let mut tar = TarReader::new(decoded, container, failure);
    while let Some(raw) = tar.next_entry()? {
        let (name, kind) = classify(&raw)?;
        if name != path {
            continue;
        }
        if kind != Kind::File {
            return Err(Error::policy(
                name.as_bytes(),
                "is not a regular file".to_string(),
            ));
        }
        if raw.size > max {
            return Err(Error::Limit {
                entry: name,
                what: "size".into(),
                limit: max,
            });
        }
        let mut data = vec![0u8; raw.size as usize];
        let mut got = 0;
        while got < data.len() {
            let n = tar.read_data(&mut data[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        return Ok(Some(data));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArchiveWriter, WriteOptions};

    fn archive() -> Vec<u8> {
        let opts = WriteOptions {
            level: 1,
            threads: 1,
            mtime: 0,
        };
        let mut writer = ArchiveWriter::new(Vec::new(), opts).unwrap();
        writer.add_dir("bin").unwrap();
        writer.add_bytes("bin/tool", b"#!/bin/sh\n", 0o755).unwrap();
        writer
            .add_bytes("pkginfo.json", b"{\"requires\":[]}", 0o644)
            .unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn finds_a_member_or_says_none() {
        let bytes = archive();
        let got = read_member(&bytes[..], "pkginfo.json", 1024).unwrap();
        assert_eq!(got.as_deref(), Some(&b"{\"requires\":[]}"[..]));
        assert_eq!(read_member(&bytes[..], "absent", 1024).unwrap(), None);
    }

    #[test]
    fn refuses_directories_and_oversized_members() {
        let bytes = archive();
        let err = read_member(&bytes[..], "bin", 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_member(&bytes[..], "pkginfo.json", 4).unwrap_err();
        assert!(matches!(err, Error::Limit { limit: 4, .. }), "{err}");
        assert_eq!(err.class(), tarmac_model::ExitClass::Invalid);
    }

    #[test]
    fn refuses_garbage() {
        assert!(read_member(&b"not an archive at all"[..], "x", 10).is_err());
    }
}
