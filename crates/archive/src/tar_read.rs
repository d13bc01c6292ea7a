//! A strict reader of the tar framing: headers, GNU long names, PAX
//! extended headers, entry data and the end-of-archive marker.
//!
//! It exists so that the extractor sees exactly one interpretation of the
//! stream: the effective name is PAX `path` > GNU long name > ustar
//! prefix + name, the effective size is PAX `size` > header size, every
//! header checksum is verified, metadata records are bounded in size (a
//! long name cannot make us allocate gigabytes), a stream that ends before
//! the end-of-archive marker is truncated, and non-zero bytes after the
//! marker are refused. Header fields are decoded with the `tar` crate's
//! `Header`; its `Archive`/`unpack` are never used.

use std::io::{self, Read};

use crate::container::{Container, SourceFailure};
use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// Longest GNU long name / long link record accepted (PATH_MAX plus NUL).
const MAX_LONG_NAME: u64 = 4097;
/// Largest PAX extended header accepted.
const MAX_PAX: u64 = 64 * 1024;
/// Metadata records (PAX, GNU long name/link) allowed before one entry:
/// a real writer needs at most three; more is a stream spinning in place.
const MAX_RECORDS_PER_ENTRY: u32 = 8;
/// Zero bytes accepted after the end-of-archive marker: tar pads to its
/// record size (10 KiB for GNU tar; 1 MiB covers any blocking factor). A
/// stream of zeros beyond that is refused rather than read forever.
const MAX_TRAILING_ZEROS: u64 = 1024 * 1024;

/// One archive entry as the stream declares it (names not yet validated).
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub name: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub kind: u8,
    pub mode: u32,
    pub size: u64,
}

/// True when the 512-byte `block` carries a valid tar header checksum
/// (unsigned, or the signed sum some old writers used).
pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    if block.len() != BLOCK {
        return false;
    }
    let header = tar::Header::from_byte_slice(block);
    let Ok(declared) = header.cksum() else {
        return false;
    };
    // The checksum field itself counts as eight spaces. Summing the whole
    // block and then correcting for the field lets the loops vectorize
    // (one header per entry: 130k of them in a bundle).
    let field = &block[148..156];
    let unsigned = block.iter().map(|&b| u32::from(b)).sum::<u32>()
        - field.iter().map(|&b| u32::from(b)).sum::<u32>()
        + 8 * u32::from(b' ');
    if declared == unsigned {
        return true;
    }
    let signed = block.iter().map(|&b| i32::from(b as i8)).sum::<i32>()
        - field.iter().map(|&b| i32::from(b as i8)).sum::<i32>()
        + 8 * i32::from(b' ');
    declared as i32 == signed
}

pub(crate) struct TarReader<R> {
    inner: R,
    container: Container,
    failure: SourceFailure,
    /// Data bytes of the current entry not yet read by the caller.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    /// Name of the current entry, for messages.
    current: String,
}

#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    pax_size: Option<u64>,
    /// A PAX key carrying metadata the extractor would drop (an extended
    /// attribute, an ACL): the entry it applies to is refused.
    pax_dropped: Option<String>,
    /// A PAX `x` record was read before this entry.
    pax_any: bool,
    /// A GNU `L` or `K` record was read before this entry.
    gnu_any: bool,
    any: bool,
}

impl Pending {
    /// The name the entry will have, as far as the records read so far say.
    fn name_or<'a>(&'a self, header_name: &'a [u8]) -> &'a [u8] {
        self.pax_path
            .as_deref()
            .or(self.long_name.as_deref())
            .unwrap_or(header_name)
    }
}

/// The numeric fields of a header that may be in base-256 (GNU's encoding
/// for values that do not fit in octal): name, offset, length.
const NUMERIC_FIELDS: [(&str, usize, usize); 7] = [
    ("mode", 100, 8),
    ("uid", 108, 8),
    ("gid", 116, 8),
    ("size", 124, 12),
    ("mtime", 136, 12),
    ("devmajor", 329, 8),
    ("devminor", 337, 8),
];

/// Refuses a base-256 field that is negative or does not fit in 64 bits:
/// the `tar` crate's decoder keeps only the last 8 bytes and ignores the
/// sign, so such a size would be silently truncated.
fn check_numeric_fields(block: &[u8; BLOCK]) -> std::result::Result<(), String> {
    for (field, offset, len) in NUMERIC_FIELDS {
        let bytes = &block[offset..offset + len];
        if bytes[0] & 0x80 == 0 {
            continue;
        }
        if bytes[0] & 0x40 != 0 {
            return Err(format!("{field} field is a negative base-256 number"));
        }
        // The value: the low 6 bits of the first byte, then the other
        // bytes, big-endian. An 8-byte field holds at most 62 bits; a
        // 12-byte one fits in 64 bits only if all but its last 8 bytes are 0.
        let rest = &bytes[1..];
        let fits = rest.len() <= 8
            || (bytes[0] & 0x3f == 0 && rest[..rest.len() - 8].iter().all(|&b| b == 0));
        if !fits {
            return Err(format!(
                "{field} field is a base-256 number that does not fit in 64 bits"
            ));
        }
    }
    Ok(())
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R, container: Container, failure: SourceFailure) -> TarReader<R> {
        TarReader {
            inner,
            container,
            failure,
            remaining: 0,
            padding: 0,
            current: String::new(),
        }
    }

    /// Maps a read error: the caller's source failing, or the decoder
    /// refusing corrupt data.
    pub fn read_error(&self, e: io::Error) -> Error {
        if let Some(source) = self.failure.take() {
            return Error::Source(source);
        }
        match self.container {
            Container::Tar => Error::Source(e),
            other => Error::Corrupt {
                container: other.name(),
                source: e,
            },
        }
    }

    /// Reads until `buf` is full or EOF; returns the count.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            }
        }
        Ok(got)
    }

    /// Skips `count` bytes; false when the stream ended first (the caller
    /// names what was cut, so the name is only formatted then).
    fn skip(&mut self, mut count: u64) -> Result<bool> {
        let mut buf = [0u8; 8192];
        while count > 0 {
            let want = count.min(buf.len() as u64) as usize;
            let got = self.fill(&mut buf[..want])?;
            if got < want {
                return Ok(false);
            }
            count -= got as u64;
        }
        Ok(true)
    }

    fn truncated_data(&self) -> Error {
        truncated(&format!("the data of entry {:?}", self.current))
    }

    fn read_record(&mut self, size: u64, max: u64, what: &str) -> Result<Vec<u8>> {
        if size > max {
            return Err(Error::malformed(format!(
                "{what} of {size} bytes (more than {max})"
            )));
        }
        let mut data = vec![0u8; size as usize];
        if self.fill(&mut data)? < data.len() {
            return Err(truncated(what));
        }
        if !self.skip(padding(size))? {
            return Err(truncated(what));
        }
        Ok(data)
    }

    /// The next entry, or `None` at the end-of-archive marker (after which
    /// only zero bytes may follow, see [`TarReader::finish`]). Unread data
    /// of the previous entry is skipped.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>> {
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        if !self.skip(rest)? {
            return Err(self.truncated_data());
        }
        let mut pending = Pending::default();
        let mut records = 0u32;
        loop {
            if records > MAX_RECORDS_PER_ENTRY {
                return Err(Error::malformed(format!(
                    "more than {MAX_RECORDS_PER_ENTRY} extended header records before one entry"
                )));
            }
            records += 1;
            let mut block = [0u8; BLOCK];
            let got = self.fill(&mut block)?;
            if got == 0 {
                return Err(truncated("the end-of-archive marker"));
            }
            if got < BLOCK {
                return Err(truncated("a header"));
            }
            if block.iter().all(|&b| b == 0) {
                if pending.any {
                    return Err(Error::malformed(
                        "an extended header is followed by the end-of-archive marker",
                    ));
                }
                self.second_zero_block()?;
                return Ok(None);
            }
            if !checksum_ok(&block) {
                return Err(Error::malformed(format!(
                    "header checksum mismatch (name {:?})",
                    String::from_utf8_lossy(&tar::Header::from_byte_slice(&block).path_bytes())
                )));
            }
            let header = tar::Header::from_byte_slice(&block);
            let kind = block[156];
            let header_name = header.path_bytes().into_owned();
            // POSIX ustar ("ustar\0" "00") and GNU ("ustar " " \0") both
            // carry it; a v7 header has no type flags, prefix or magic, and
            // no writer of packages makes one.
            if &block[257..262] != b"ustar" {
                return Err(Error::policy(
                    pending.name_or(&header_name),
                    "header without the \"ustar\" magic (pre-POSIX v7 tar): refused",
                ));
            }
            check_numeric_fields(&block)
                .map_err(|why| Error::policy(pending.name_or(&header_name), why))?;
            let size = header
                .entry_size()
                .map_err(|e| Error::policy(&header_name, format!("unreadable size field: {e}")))?;
            match kind {
                b'x' => {
                    let data = self.read_record(size, MAX_PAX, "a PAX extended header")?;
                    parse_pax(&data, &header_name, &mut pending)?;
                    pending.pax_any = true;
                    pending.any = true;
                }
                b'L' => {
                    let data = self.read_record(size, MAX_LONG_NAME, "a GNU long name")?;
                    pending.long_name = Some(until_last_nul(data, "GNU long name")?);
                    pending.gnu_any = true;
                    pending.any = true;
                }
                b'K' => {
                    let data = self.read_record(size, MAX_LONG_NAME, "a GNU long link name")?;
                    pending.long_link = Some(until_last_nul(data, "GNU long link name")?);
                    pending.gnu_any = true;
                    pending.any = true;
                }
                b'g' => {
                    return Err(Error::policy(
                        &header_name,
                        "PAX global extended header (applies to every later entry: refused)",
                    ))
                }
                _ => {
                    if pending.pax_any && pending.gnu_any {
                        return Err(Error::policy(
                            pending.name_or(&header_name),
                            "preceded by both a PAX extended header and a GNU long name/link \
                             record (tar readers disagree on which one names the entry)",
                        ));
                    }
                    if let Some(key) = &pending.pax_dropped {
                        return Err(Error::policy(
                            pending.name_or(&header_name),
                            format!(
                                "PAX record {key}: extended attributes and ACLs are not \
                                 extracted, and would be dropped silently"
                            ),
                        ));
                    }
                    let name = pending
                        .pax_path
                        .or(pending.long_name)
                        .unwrap_or(header_name);
                    let link = pending
                        .pax_link
                        .or(pending.long_link)
                        .or_else(|| header.link_name_bytes().map(|l| l.into_owned()));
                    let size = pending.pax_size.unwrap_or(size);
                    let mode = header
                        .mode()
                        .map_err(|e| Error::policy(&name, format!("unreadable mode field: {e}")))?;
                    self.remaining = size;
                    self.padding = padding(size);
                    // Kept for messages; the buffer is reused (no allocation
                    // per entry for a UTF-8 name).
                    self.current.clear();
                    self.current.push_str(&String::from_utf8_lossy(&name));
                    return Ok(Some(RawEntry {
                        name,
                        link,
                        kind,
                        mode,
                        size,
                    }));
                }
            }
        }
    }

    /// The end-of-archive marker is two zero blocks: after the first, the
    /// second must follow (tar pads the stream further with zeros, which
    /// [`TarReader::finish`] reads).
    fn second_zero_block(&mut self) -> Result<()> {
        let mut block = [0u8; BLOCK];
        let got = self.fill(&mut block)?;
        if got < BLOCK {
            return Err(Error::malformed(
                "truncated: the stream ends after one zero block (the end-of-archive marker is two)",
            ));
        }
        if block.iter().any(|&b| b != 0) {
            return Err(Error::malformed(
                "a lone zero block followed by non-zero data (the end-of-archive marker is two zero blocks)",
            ));
        }
        Ok(())
    }

    /// Reads data of the current entry; 0 at its end. A stream ending
    /// inside the data is truncated.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = self.remaining.min(buf.len() as u64) as usize;
        loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => return Err(self.truncated_data()),
                Ok(n) => {
                    self.remaining -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }

    /// After the end-of-archive marker: reads the stream to its end (which
    /// also makes the decoder check everything after the last frame) and
    /// refuses any non-zero byte.
    pub fn finish(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset_after_marker = 0u64;
        loop {
            let got = self.fill(&mut buf)?;
            if got == 0 {
                return Ok(());
            }
            if let Some(i) = buf[..got].iter().position(|&b| b != 0) {
                return Err(Error::malformed(format!(
                    "non-zero data {} bytes after the end-of-archive marker",
                    offset_after_marker + i as u64
                )));
            }
            offset_after_marker += got as u64;
            if offset_after_marker > MAX_TRAILING_ZEROS {
                return Err(Error::malformed(format!(
                    "more than {MAX_TRAILING_ZEROS} bytes of padding after the end-of-archive marker"
                )));
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn truncated_for_test(what: &str) -> Error {
    truncated(what)
}

fn truncated(what: &str) -> Error {
    Error::malformed(format!(
        "{}the stream ends inside {what}",
        crate::error::TRUNCATED
    ))
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// The body of a GNU long name/link record: a NUL may only be its last
/// byte (GNU tar writes name + NUL). A NUL before that would cut the name
/// here while another reader keeps the rest: refused.
fn until_last_nul(mut data: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    if let Some(i) = data.iter().position(|&b| b == 0) {
        if i + 1 != data.len() {
            let shown: Vec<u8> = data.strip_suffix(&[0]).unwrap_or(&data).to_vec();
            return Err(Error::policy(
                &shown,
                format!(
                    "NUL at byte {i} inside the {what} of {} bytes (readers disagree on the name)",
                    data.len()
                ),
            ));
        }
        data.truncate(i);
    }
    Ok(data)
}

/// PAX keys of metadata the extractor does not restore: extended
/// attributes (a file capability is one), POSIX ACLs, SELinux labels.
const DROPPED_PAX_PREFIXES: [&[u8]; 4] = [
    b"SCHILY.xattr.",
    b"LIBARCHIVE.xattr.",
    b"SCHILY.acl.",
    b"RHT.security.",
];

/// Parses PAX records `"<len> <key>=<value>\n"`. Only `path`, `linkpath`
/// and `size` matter; sparse-file keys are refused; other keys (times,
/// owners, charset) are ignored because the policy never uses them.
fn parse_pax(mut data: &[u8], header_name: &[u8], pending: &mut Pending) -> Result<()> {
    let bad = |why: &str| Error::policy(header_name, format!("malformed PAX header: {why}"));
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("record without a length"))?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("record length is not a number"))?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad("record length does not match its content"));
        }
        let record = &data[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("record without \"=\""))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => pending.pax_path = Some(value.to_vec()),
            b"linkpath" => pending.pax_link = Some(value.to_vec()),
            b"size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("size is not a number"))?;
                pending.pax_size = Some(size);
            }
            k if DROPPED_PAX_PREFIXES.iter().any(|p| k.starts_with(p)) => {
                pending
                    .pax_dropped
                    .get_or_insert_with(|| String::from_utf8_lossy(k).into_owned());
            }
            k if k.starts_with(b"GNU.sparse.") => {
                return Err(Error::policy(
                    pending.pax_path.as_deref().unwrap_or(header_name),
                    "sparse file (PAX GNU.sparse)",
                ))
            }
            _ => {}
        }
        data = &data[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header named `name` whose checksum field holds `sum` (octal).
    fn header_with(name: &[u8], sum: impl Fn(&[u8]) -> i64) -> Vec<u8> {
        let mut block = vec![0u8; BLOCK];
        block[..name.len()].copy_from_slice(name);
        block[156] = b'0';
        block[148..156].copy_from_slice(b"        ");
        let sum = sum(&block);
        let field = format!("{:06o}\0 ", sum);
        block[148..156].copy_from_slice(field.as_bytes());
        block
    }

    #[test]
    fn checksums_unsigned_and_signed_are_accepted_and_a_flipped_byte_is_not() {
        let unsigned = |b: &[u8]| b.iter().map(|&x| i64::from(x)).sum();
        let signed = |b: &[u8]| b.iter().map(|&x| i64::from(x as i8)).sum();
        // Bytes over 0x7f make the two sums differ.
        let name = "caf\u{e9}-\u{fc}ber".as_bytes();
        let plain = header_with(name, unsigned);
        assert!(checksum_ok(&plain));
        let old_style = header_with(name, signed);
        assert_ne!(plain[148..156], old_style[148..156]);
        assert!(checksum_ok(&old_style));
        let mut flipped = plain.clone();
        flipped[10] ^= 1;
        assert!(!checksum_ok(&flipped));
        assert!(!checksum_ok(&plain[..100]));
    }
}
