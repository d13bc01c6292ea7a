//! A raw tar writer for hostile-archive tests: it builds headers byte by
//! byte, so tests can produce exactly the archives a careful writer (the
//! `tar` crate, our own) refuses to make: absolute names, `..`, devices,
//! setuid bits, bad checksums, PAX and GNU records with any content,
//! truncated streams and trailing garbage.
//!
//! ```
//! use tarmac_testkit::hostile::{RawTar, Header};
//! let bytes = RawTar::new()
//!     .file("ok.txt", b"fine")
//!     .entry(Header::file("../escape").size(1), b"x")
//!     .end()
//!     .into_bytes();
//! assert_eq!(bytes.len() % 512, 0);
//! ```

const BLOCK: usize = 512;

/// One hand-made ustar header. Every field is what the test says, even
/// when it makes no sense.
#[derive(Debug, Clone)]
pub struct Header {
    pub kind: u8,
    pub name: Vec<u8>,
    pub prefix: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
    pub size: u64,
    /// Write a wrong checksum.
    pub bad_checksum: bool,
    /// Raw bytes written over the header at an offset, after every field
    /// and before the checksum (base-256 numbers, a missing magic, ...).
    pub patches: Vec<(usize, Vec<u8>)>,
}

impl Header {
    pub fn new(kind: u8, name: impl AsRef<[u8]>) -> Header {
        Header {
            kind,
            name: name.as_ref().to_vec(),
            prefix: Vec::new(),
            link: Vec::new(),
            mode: if kind == b'5' { 0o755 } else { 0o644 },
            size: 0,
            bad_checksum: false,
            patches: Vec::new(),
        }
    }
    pub fn file(name: impl AsRef<[u8]>) -> Header {
        Header::new(b'0', name)
    }
    pub fn dir(name: impl AsRef<[u8]>) -> Header {
        Header::new(b'5', name)
    }
    pub fn symlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Header {
        Header::new(b'2', name).link(target)
    }
    pub fn hardlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Header {
        Header::new(b'1', name).link(target)
    }
    pub fn link(mut self, target: impl AsRef<[u8]>) -> Header {
        self.link = target.as_ref().to_vec();
        self
    }
    pub fn mode(mut self, mode: u32) -> Header {
        self.mode = mode;
        self
    }
    pub fn size(mut self, size: u64) -> Header {
        self.size = size;
        self
    }
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Header {
        self.prefix = prefix.as_ref().to_vec();
        self
    }
    pub fn bad_checksum(mut self) -> Header {
        self.bad_checksum = true;
        self
    }
    /// Writes `bytes` at `offset` of the block (the checksum stays right).
    pub fn patch(mut self, offset: usize, bytes: &[u8]) -> Header {
        self.patches.push((offset, bytes.to_vec()));
        self
    }

    /// The 512 bytes of this header (fields longer than their slot are cut).
    pub fn to_block(&self) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        put(&mut b[0..100], &self.name);
        put(&mut b[100..108], format!("{:07o}\0", self.mode).as_bytes());
        put(&mut b[108..116], b"0000000\0");
        put(&mut b[116..124], b"0000000\0");
        put(&mut b[124..136], format!("{:011o}\0", self.size).as_bytes());
        put(&mut b[136..148], b"00000000000\0");
        b[156] = self.kind;
        put(&mut b[157..257], &self.link);
        put(&mut b[257..263], b"ustar\0");
        put(&mut b[263..265], b"00");
        put(&mut b[345..500], &self.prefix);
        for (offset, bytes) in &self.patches {
            b[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        b[148..156].copy_from_slice(b"        ");
        let mut sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        if self.bad_checksum {
            sum += 1;
        }
        put(&mut b[148..156], format!("{sum:06o}\0 ").as_bytes());
        b
    }
}

fn put(slot: &mut [u8], value: &[u8]) {
    let n = value.len().min(slot.len());
    slot[..n].copy_from_slice(&value[..n]);
}

/// Builds a tar stream entry by entry. Nothing is validated.
#[derive(Debug, Clone, Default)]
pub struct RawTar {
    bytes: Vec<u8>,
}

impl RawTar {
    pub fn new() -> RawTar {
        RawTar::default()
    }

    /// A header, then `data` padded to a block (`data` need not match the
    /// header's size: that is how truncation and smuggling are made).
    pub fn entry(mut self, header: Header, data: &[u8]) -> RawTar {
        self.bytes.extend_from_slice(&header.to_block());
        self.bytes.extend_from_slice(data);
        let rem = data.len() % BLOCK;
        if rem != 0 {
            self.bytes.extend(std::iter::repeat_n(0u8, BLOCK - rem));
        }
        self
    }

    /// A regular file, mode 0644, with its content.
    pub fn file(self, name: impl AsRef<[u8]>, data: &[u8]) -> RawTar {
        self.entry(Header::file(name).size(data.len() as u64), data)
    }

    pub fn dir(self, name: impl AsRef<[u8]>) -> RawTar {
        self.entry(Header::dir(name), &[])
    }

    pub fn symlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> RawTar {
        self.entry(Header::symlink(name, target), &[])
    }

    pub fn hardlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> RawTar {
        self.entry(Header::hardlink(name, target), &[])
    }

    /// A GNU `././@LongLink` record (`kind` b'L' for a name, b'K' for a
    /// link target) applying to the next header.
    pub fn gnu_long(self, kind: u8, value: &[u8]) -> RawTar {
        let mut data = value.to_vec();
        data.push(0);
        self.entry(
            Header::new(kind, "././@LongLink").size(data.len() as u64),
            &data,
        )
    }

    /// A PAX extended header (`b'x'`, or `b'g'` for a global one) with the
    /// given records, correctly length-prefixed.
    pub fn pax(self, kind: u8, records: &[(&str, &[u8])]) -> RawTar {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = key.len() + value.len() + 3; // ' ', '=', '\n'
            let mut len = body + body.to_string().len();
            if len.to_string().len() != body.to_string().len() {
                len += 1;
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.entry(
            Header::new(kind, "PaxHeaders/x").size(data.len() as u64),
            &data,
        )
    }

    /// Appends bytes as they are.
    pub fn raw(mut self, bytes: &[u8]) -> RawTar {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The end-of-archive marker: two zero blocks.
    pub fn end(self) -> RawTar {
        self.raw(&[0u8; 2 * BLOCK])
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let bytes = RawTar::new().pax(b'x', &[("path", b"a")]).into_bytes();
        // "9 path=a\n" is 9 bytes long.
        assert_eq!(&bytes[512..521], b"9 path=a\n");
        let long = vec![b'x'; 95];
        let bytes = RawTar::new().pax(b'x', &[("path", &long)]).into_bytes();
        assert!(bytes[512..].starts_with(b"105 path="));
    }

    #[test]
    fn header_checksum_is_valid_unless_asked() {
        let block = Header::file("a").to_block();
        let declared =
            u32::from_str_radix(std::str::from_utf8(&block[148..154]).unwrap(), 8).unwrap();
        let mut sum = 0u32;
        for (i, &b) in block.iter().enumerate() {
            sum += if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            };
        }
        assert_eq!(declared, sum);
        assert_ne!(Header::file("a").bad_checksum().to_block(), block);
    }
}
