//! The compressed container around a tar stream, chosen by magic bytes
//! (never by file name: a pkgpanda fixture named `.tar.xz` is gzip).
//!
//! Every decoder reads all of its input: concatenated zstd frames, gzip
//! members and xz streams are one stream, and anything after the last one
//! is an error, so an archive cannot smuggle bytes past the hash a caller
//! computes over what was extracted.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// The container format of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    Zstd,
    Gzip,
    Xz,
    Tar,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::Zstd => "zstd",
            Container::Gzip => "gzip",
            Container::Xz => "xz",
            Container::Tar => "tar",
        }
    }
}

const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The largest zstd window accepted: 2^24 = 16 MiB. Every standard level
/// up to 19 (what [`crate::WriteOptions`] allows) uses at most 2^23; a frame
/// asking for more (`--ultra`, `--long`) is refused instead of making a
/// hostile archive allocate up to 2 GiB. Keeps extraction under 64 MiB.
pub(crate) const ZSTD_WINDOW_LOG_MAX: u32 = 24;
/// Memory the xz decoder may use: enough for `xz -9` (64 MiB dictionary);
/// DC/OS's own archives are `xz -6` (8 MiB).
const XZ_MEMLIMIT: u64 = 72 * 1024 * 1024;

/// Decides the container from the first bytes (up to 512) of a stream.
pub(crate) fn sniff(head: &[u8]) -> Result<Container> {
    if head.starts_with(ZSTD_MAGIC) {
        Ok(Container::Zstd)
    } else if head.starts_with(GZIP_MAGIC) {
        Ok(Container::Gzip)
    } else if head.starts_with(XZ_MAGIC) {
        Ok(Container::Xz)
    } else if head.len() == 512
        && (&head[257..262] == b"ustar" || crate::tar_read::checksum_ok(head))
    {
        // A ustar magic, or a pre-POSIX header with a valid checksum; the
        // tar reader verifies every checksum from here on.
        Ok(Container::Tar)
    } else if head.is_empty() {
        Err(Error::malformed("empty stream"))
    } else {
        let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Err(Error::malformed(format!(
            "not a tar, tar.zst, tar.gz or tar.xz stream (first bytes: {})",
            shown.join(" ")
        )))
    }
}

/// Where a failure of the caller's reader is kept, so that a decoder error
/// caused by it is reported as the source's failure, not as corrupt data.
#[derive(Clone, Default)]
pub(crate) struct SourceFailure(Arc<Mutex<Option<io::Error>>>);

impl SourceFailure {
    pub fn take(&self) -> Option<io::Error> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The caller's reader, recording its own failures in a [`SourceFailure`].
/// Buffered: the decoders read straight from the caller's buffer (for the
/// extractor, the chunks of the read-ahead thread) instead of copying
/// every byte into a buffer of their own first.
pub(crate) struct Source<R> {
    inner: R,
    failure: SourceFailure,
}

impl<R> Source<R> {
    fn failed(&self, e: io::Error) -> io::Error {
        let kind = e.kind();
        if let Ok(mut slot) = self.failure.0.lock() {
            slot.get_or_insert(e);
        }
        io::Error::new(kind, "the archive source failed")
    }
}

impl<R: BufRead> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.failed(e)),
                // Re-borrowed: the loop above ends the first borrow.
                Ok(_) => return self.inner.fill_buf(),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }
}

/// Whether the decoder checks the container's own content checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checksums {
    Verify,
    /// The caller verifies a pinned hash of the raw bytes, which covers
    /// the same bytes (zstd frame checksums only; gzip and xz decoders
    /// have no such switch).
    LeftToThePin,
}

/// Opens the decompressed tar stream of `reader`: sniffs the container and
/// returns a reader of the tar bytes.
pub(crate) fn open<'a, R: BufRead + Send + 'a>(
    reader: R,
    failure: &SourceFailure,
    checksums: Checksums,
) -> Result<(Container, Box<dyn Read + Send + 'a>)> {
    let mut source = Source {
        inner: reader,
        failure: failure.clone(),
    };
    let mut head = Vec::with_capacity(512);
    (&mut source)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| source_error(e, failure))?;
    let container = sniff(&head)?;
    let input = io::Cursor::new(head).chain(source);
    let tar: Box<dyn Read + Send + 'a> = match container {
        Container::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| source_error(e, failure))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| source_error(e, failure))?;
            if checksums == Checksums::LeftToThePin {
                decoder
                    .set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true))
                    .map_err(|e| source_error(e, failure))?;
            }
            Box::new(decoder)
        }
        Container::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Container::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| Error::Corrupt {
                container: "xz",
                source: e.into(),
            })?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
        }
        Container::Tar => Box::new(input),
    };
    Ok((container, tar))
}

fn source_error(e: io::Error, failure: &SourceFailure) -> Error {
    match failure.take() {
        Some(source) => Error::Source(source),
        None => Error::Source(e),
    }
}

/// Size of the chunks handed from a producing thread to its consumer (the
/// raw bytes to the decoder, the decoded bytes to the extractor). 64 KiB
/// chunks of raw bytes made four times the thread wake-ups for no gain.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the reading and the decoding thread.
pub(crate) const RAW_IN_FLIGHT: usize = 4;
/// Chunks in flight between the decoding and the parsing thread: 15 MiB
/// of look-ahead. A bundle alternates stretches of small files, where the
/// writers are the bound and the decoder waits, with stretches of large
/// binaries, where the decoder is the bound and the writers wait; the
/// look-ahead lets the decoder run on through the first so that the
/// writers have work through the second. Cores busy at scale 1 in a
/// tmpfs: 1.70 with 1 MiB, 1.77 with 4 MiB, 1.83 with 10 MiB (peak RSS
/// 48, 51, 58 MiB); with the leaner map (`nodes`), 1.73 with 10 MiB and
/// 1.81 with 15 MiB (peak RSS 53 and 58 MiB), faster in 5 rounds of 5.
pub(crate) const DECODED_IN_FLIGHT: usize = 60;

/// Runs `body` with a reader of `source` whose bytes are produced by a
/// second thread, so that reading (and, for a decoder, decompressing)
/// overlaps with what `body` does (the two halves of `zstd -dc | tar -x`,
/// in one process and without a pipe). When `body` returns early, the
/// producer stops at its next chunk.
pub(crate) fn pipelined<T>(
    source: Box<dyn Read + Send + '_>,
    in_flight: usize,
    body: impl FnOnce(&mut (dyn BufRead + Send)) -> T,
) -> T {
    let (chunks, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(in_flight);
    let (spare_tx, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut source = source;
            loop {
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let mut filled = 0;
                let result = loop {
                    match source.read(&mut buf[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(filled);
                let done = filled == 0 || result.is_err();
                if filled > 0 && chunks.send(Ok(buf)).is_err() {
                    return;
                }
                if let Err(e) = result {
                    let _ = chunks.send(Err(e));
                    return;
                }
                if done {
                    return;
                }
            }
        });
        let mut reader = ChunkReader {
            rx,
            spare: spare_tx,
            current: Vec::new(),
            pos: 0,
        };
        let result = body(&mut reader);
        // Dropping the receiver makes the producer's next send fail.
        drop(reader);
        result
    })
}

struct ChunkReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    spare: std::sync::mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.current, chunk);
                    let _ = self.spare.send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The producer finished: end of stream.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.current[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.current.len());
    }
}
