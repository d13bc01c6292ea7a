//! Package deltas: a zstd frame compressed with an older package's
//! canonical tar stream as its reference (zstd's `--patch-from`, the
//! prefix API), decoded on a host against the same stream regenerated from
//! the tree it already has.
//!
//! Why this works: the writer is deterministic, so the *canonical tar* of a
//! package (plain tar, mtime 0, the writer's order and headers) is a pure
//! function of its tree. The render side makes it from the archive it
//! serves ([`canonical_tar_of_archive`], no extraction), the host from
//! `packages/<id>/` ([`canonical_tar`]); both give the same bytes, which the
//! delta record pins by blake3. The decoded stream is the new package's
//! canonical tar, which the strict extractor reads like any plain tar.
//!
//! Why one-shot decoding into caller-provided memory: a streaming zstd
//! decoder keeps a window buffer as large as the frame's window (as large
//! as the package: matches reach back into the whole reference), which is
//! anonymous memory. [`decode_delta`] decodes in one pass straight into
//! the output slice, so the caller can hand it file-backed memory (a
//! mapped temp file: page cache, not anonymous memory) for both the
//! reference and the output; no window buffer is allocated.
//!
//! What it is not: it does not download, map files or verify trees; the
//! fetch crate does, and the extractor checks the tree hash as for any
//! archive.

use std::io::{Read, Write};
use std::path::Path;

use tarmac_model::PackageManifest;
use zstd::zstd_safe::{self, CParameter, DParameter};

use crate::error::{Error, Result};
use crate::tree::TreeDigest;
use crate::write::ArchiveWriter;

/// The zstd level of deltas: with long-distance matching the reference is
/// found at any level. Measured on a bench package (9.3 MB tar, 1% of its
/// files changed; zstd --patch-from --long=27): level 3 13,593 bytes in
/// 0.16 s, 9 13,447 bytes in 0.47 s, 19 13,219 bytes in 5.1 s: 19 saves
/// 2% for 10x the render time (docs/performance.md § Delta upgrades).
pub const DELTA_LEVEL: i32 = 9;

/// Largest window a delta may declare (zstd's 64-bit maximum, 2 GiB).
const MAX_WINDOW_LOG: u32 = 31;

/// Writes the canonical tar stream of the package tree `dir` to `out`.
pub fn canonical_tar<W: Write>(dir: &Path, out: W) -> Result<(W, TreeDigest)> {
    let mut writer = ArchiveWriter::uncompressed(out, 0);
    let digest = writer.add_tree("", dir)?;
    Ok((writer.finish()?, digest))
}

/// Writes the canonical tar stream of a package archive (any container) to
/// `out`, checked against its manifest on the way, without extracting it.
pub fn canonical_tar_of_archive<R: Read + Send, W: Write>(
    archive: R,
    manifest: &PackageManifest,
    out: W,
) -> Result<W> {
    let mut writer = ArchiveWriter::uncompressed(out, 0);
    writer.add_archive("", archive, manifest)?;
    writer.finish()
}

/// The window log a delta of `target` against `base` needs: matches reach
/// back over the whole reference and what was decoded so far.
fn window_log(base: usize, target: usize) -> u32 {
    let span = (base as u64 + target as u64).max(1 << 10);
    (64 - (span - 1).leading_zeros()).clamp(10, MAX_WINDOW_LOG)
}

/// Compresses `target` with `base` as its reference (a prefix): one zstd
/// frame declaring its content size and window, with a checksum.
pub fn encode_delta(base: &[u8], target: &[u8], level: i32) -> Result<Vec<u8>> {
    let fail = |what: &str, code: usize| Error::Delta {
        reason: format!("{what}: {}", zstd_safe::get_error_name(code)),
    };
    let mut cctx = zstd_safe::CCtx::create();
    for parameter in [
        CParameter::CompressionLevel(level),
        CParameter::WindowLog(window_log(base.len(), target.len())),
        CParameter::EnableLongDistanceMatching(true),
        CParameter::ContentSizeFlag(true),
        CParameter::ChecksumFlag(true),
    ] {
        cctx.set_parameter(parameter)
            .map_err(|c| fail("setting a parameter", c))?;
    }
    cctx.ref_prefix(base)
        .map_err(|c| fail("referencing the base", c))?;
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(target.len()));
    cctx.compress2(&mut out, target)
        .map_err(|c| fail("compressing", c))?;
    Ok(out)
}

/// The window (bytes) and content size a delta's frame header declares,
/// read without decoding anything; `None` for what is not one zstd frame
/// header with both.
pub fn delta_window(frame: &[u8]) -> Option<(u64, u64)> {
    if frame.len() < 6 || frame[..4] != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let descriptor = frame[4];
    let single_segment = descriptor & 0x20 != 0;
    let content = zstd_safe::get_frame_content_size(frame).ok()??;
    if single_segment {
        return Some((content, content));
    }
    let byte = frame[5];
    let log = 10 + u64::from(byte >> 3);
    let base = 1u64 << log;
    Some((base + (base / 8) * u64::from(byte & 7), content))
}

/// Decodes the delta `frame` against `base` into `out`, which must be
/// exactly the declared content size; refuses a frame whose window is
/// above `max_window` before decoding anything.
pub fn decode_delta(base: &[u8], frame: &[u8], out: &mut [u8], max_window: u64) -> Result<()> {
    let refuse = |reason: String| Err(Error::Delta { reason });
    let Some((window, content)) = delta_window(frame) else {
        return refuse("not a zstd frame declaring its window and size".into());
    };
    if window > max_window {
        return refuse(format!(
            "the frame's window of {window} bytes is above the limit of {max_window}"
        ));
    }
    if content != out.len() as u64 {
        return refuse(format!(
            "the frame decodes to {content} bytes, {} were declared",
            out.len()
        ));
    }
    let fail = |what: &str, code: usize| Error::Delta {
        reason: format!("{what}: {}", zstd_safe::get_error_name(code)),
    };
    let mut dctx = zstd_safe::DCtx::create();
    dctx.set_parameter(DParameter::WindowLogMax(MAX_WINDOW_LOG))
        .map_err(|c| fail("setting the window limit", c))?;
    dctx.ref_prefix(base)
        .map_err(|c| fail("referencing the base", c))?;
    let written = dctx
        .decompress(out, frame)
        .map_err(|c| fail("decoding", c))?;
    if written != out.len() {
        return refuse(format!(
            "decoded {written} bytes, {} were declared",
            out.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_decodes_against_its_base_only() {
        let base: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i * 7919).to_le_bytes())
            .collect();
        let mut target = base.clone();
        target[600_000..600_010].copy_from_slice(b"0123456789");
        let delta = encode_delta(&base, &target, 3).unwrap();
        assert!(delta.len() < target.len() / 100, "{}", delta.len());
        let (window, content) = delta_window(&delta).unwrap();
        assert_eq!(content, target.len() as u64);
        assert!(window >= base.len() as u64, "{window}");

        let mut out = vec![0u8; target.len()];
        decode_delta(&base, &delta, &mut out, 1 << 31).unwrap();
        assert_eq!(out, target);

        // Another base: refused (checksum or corruption), never wrong bytes.
        let mut other = base.clone();
        other[10] ^= 1;
        let err = decode_delta(&other, &delta, &mut out, 1 << 31).unwrap_err();
        assert!(matches!(err, Error::Delta { .. }), "{err}");
        // A window above the limit: refused before decoding.
        let err = decode_delta(&base, &delta, &mut out, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("above the limit"), "{err}");
        // A wrong declared size.
        let mut short = vec![0u8; target.len() - 1];
        let err = decode_delta(&base, &delta, &mut short, 1 << 31).unwrap_err();
        assert!(err.to_string().contains("were declared"), "{err}");
        assert!(delta_window(b"not zstd").is_none());
    }
}
