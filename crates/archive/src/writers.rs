//! The writer threads of the extractor: creating, filling and hashing the
//! regular files the parser hands them, so that file creation (the bound
//! of an extraction of many small files: one create, write and close per
//! file, mostly kernel time) runs on every core while one thread
//! decompresses and one parses.
//!
//! Division of work, and why it keeps the policy intact: the parser
//! (the extracting thread) still makes every decision of the policy
//! (names, types, limits, duplicates, parents), creates every directory
//! and symlink itself, and defers hardlinks to the end; a writer only
//! creates one new regular file, `O_CREAT|O_EXCL|O_NOFOLLOW`, by name in
//! a directory the parser created and opened (`openat` relative to that
//! directory's fd, so no path is walked again and no link is followed),
//! writes the bytes it was given and hashes them. The file hashes come
//! back to the parser, which builds the tree hash from them once every
//! writer is done: still one pass over the data.
//!
//! Memory is bounded by a pool of [`BLOCKS`] blocks of [`BLOCK`] bytes:
//! files up to one block travel packed, one after the other, in the one
//! block their batch shares (most files are a few KiB: a block per file
//! would cap the files in flight at [`BLOCKS`] and make the parser and
//! the writers wake each other per file); a larger file travels as its
//! own first block plus a bounded channel of the rest, which the writer
//! that took the job drains while the parser fills it (so the blocks in
//! flight never exceed the pool, whatever the file sizes). Blocks are
//! recycled, never freed and reallocated per file.
//!
//! Scheduling: the writers run two nice levels below the threads of the
//! serial path (raw reader, decoder, parser). There are more writers than
//! cores, and with equal shares they took most of the CPU time while the
//! decoder, the one step that cannot be spread, waited for a core; then,
//! in a stretch of large files, the writers ran dry. With the serial path
//! first the writers still get every core it leaves (cores busy at scale
//! 1 in a tmpfs: 1.73-1.85 -> 1.81-1.86, see docs/performance.md). Lower,
//! never higher, than the rest of the host: a host-extract run beside
//! other work only yields more.
//!
//! Failure: the first writer error is kept and raises a flag the parser
//! checks before each entry and whenever it waits on the pool; writers
//! keep draining (returning blocks) until the parser stops, so nobody
//! waits forever, and the staging guard removes the partial tree.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use tarmac_fs::FsError;

use crate::error::{Error, Result};
use crate::tree::file_mode;

/// Size of one block of file data handed to a writer. 256 KiB holds a
/// batch of [`BATCH`] typical small files (3.7 KiB on average in a DC/OS
/// bundle) and takes a quarter of the hand-overs of a large file that
/// 64 KiB blocks did: half the context switches, 5% less CPU at scale 1.
pub(crate) const BLOCK: usize = 256 * 1024;
/// Blocks in the pool: 2 MiB of file data in flight at most. The budget
/// at scale 1 (peak RSS under 64 MiB): the decoder's 16 MiB window, the
/// map (about 20 MiB for 130k entries), these blocks, the decoded
/// look-ahead (`container::DECODED_IN_FLIGHT`); 58 MiB in all.
pub(crate) const BLOCKS: usize = 8;
/// Most jobs handed over at once (a batch also ends when its shared block
/// is full): a writer wakes once per batch, not per file (futex wake-ups
/// and context switches were nearly a fifth of the CPU time with batches
/// of 8 and a block per file).
const BATCH: usize = 64;
/// Blocks of one large file queued ahead of its writer.
const FILE_QUEUE: usize = 4;

/// Writer threads used by [`crate::extract`]: two per core, from 2 to 8.
/// Chosen from measurements of 1, 2 and 4 writers on 2 cores
/// (docs/performance.md § Extraction into a tmpfs: writer counts): 4 beat
/// 2 and 1, because a writer blocked in the kernel creating an inode
/// leaves its core to another.
pub(crate) fn default_writers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8)
}

/// Nice levels the writers run below the thread that starts them.
const WRITER_NICE: i32 = 2;

/// Lowers the calling thread's priority by [`WRITER_NICE`] (best effort:
/// a failure only leaves the equal shares).
fn lower_priority() {
    // SAFETY: nice(2) takes no pointers. On Linux a nice value belongs to
    // a thread, and nice() changes the calling thread's only.
    let _ = unsafe { nix::libc::nice(WRITER_NICE) };
}

/// A block of file data: `len` valid bytes of `buf`.
pub(crate) struct Block {
    pub buf: Box<[u8]>,
    pub len: usize,
}

/// Where a job's bytes are.
pub(crate) enum Data {
    /// `len` bytes at `start` of its batch's shared block.
    Packed { start: usize, len: usize },
    /// A file larger than a block: its first block, the rest to come.
    Own { first: Block, rest: Receiver<Block> },
}

/// One regular file to create: its name in the directory `dir` (opened by
/// the parser), and its bytes.
pub(crate) struct Job {
    pub dir: Arc<OwnedFd>,
    pub name: CString,
    /// Archive-relative path, for messages.
    pub path: String,
    /// The job's number, returned with the hash.
    pub number: u32,
    pub exec: bool,
    pub size: u64,
    pub data: Data,
}

/// Jobs handed to one writer at once, with the block their packed bytes
/// share.
pub(crate) struct Batch {
    jobs: Vec<Job>,
    block: Option<Block>,
}

/// What the parser and the writers share.
pub(crate) struct Shared<'a> {
    staging: &'a Path,
    chmod_needed: bool,
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl<'a> Shared<'a> {
    pub fn new(staging: &'a Path, chmod_needed: bool) -> Shared<'a> {
        Shared {
            staging,
            chmod_needed,
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    fn fail(&self, error: Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// The first writer error (once; `None` if no writer failed).
    pub fn take_error(&self) -> Option<Error> {
        self.error.lock().ok().and_then(|mut slot| slot.take())
    }

    /// The error to stop the parser with once a writer failed or every
    /// writer is gone.
    pub fn stop(&self) -> Error {
        self.take_error().unwrap_or_else(|| {
            Error::Output(std::io::Error::other(
                "the extractor's writer threads stopped",
            ))
        })
    }
}

/// The parser's end of the block pool.
pub(crate) struct Pool {
    free: Receiver<Block>,
    made: usize,
}

impl Pool {
    /// A pool and the sender writers return blocks through.
    pub fn new() -> (Pool, Sender<Block>) {
        let (tx, free) = mpsc::channel();
        (Pool { free, made: 0 }, tx)
    }

    /// A free block: a returned one, a new one while fewer than
    /// [`BLOCKS`] exist, else (after handing the writers the jobs not yet
    /// sent, which may hold every block) the next one a writer returns.
    pub fn take(&mut self, shared: &Shared<'_>, queue: &mut Queue) -> Result<Block> {
        if let Ok(mut block) = self.free.try_recv() {
            block.len = 0;
            return Ok(block);
        }
        if self.made < BLOCKS {
            self.made += 1;
            return Ok(Block {
                buf: vec![0u8; BLOCK].into_boxed_slice(),
                len: 0,
            });
        }
        if shared.failed() {
            return Err(shared.stop());
        }
        queue.flush(shared)?;
        match self.free.recv() {
            Ok(mut block) => {
                block.len = 0;
                Ok(block)
            }
            // Every writer is gone (a panic): stop.
            Err(_) => Err(shared.stop()),
        }
    }
}

/// The queue of job batches, taken by whichever writer is free.
pub(crate) type Jobs = Mutex<Receiver<Batch>>;

/// The parser's end of the job queue: jobs go in batches of up to
/// [`BATCH`], with the block the batch's small files are packed into.
pub(crate) struct Queue {
    tx: SyncSender<Batch>,
    batch: Vec<Job>,
    block: Option<Block>,
}

impl Queue {
    /// The current batch's shared block with room for `size` more bytes
    /// (`size` at most [`BLOCK`]): the batch goes to the writers first if
    /// its block is too full, and a new block is taken if needed.
    pub fn room(
        &mut self,
        size: usize,
        pool: &mut Pool,
        shared: &Shared<'_>,
    ) -> Result<&mut Block> {
        if self
            .block
            .as_ref()
            .is_some_and(|block| BLOCK - block.len < size)
        {
            self.flush(shared)?;
        }
        if self.block.is_none() {
            let block = pool.take(shared, self)?;
            // Taking may have flushed this batch; the block is the new one's.
            self.block = Some(block);
        }
        Ok(self.block.as_mut().expect("a block was just put there"))
    }

    /// Queues `job`, handing the batch over when it is full.
    pub fn push(&mut self, job: Job, shared: &Shared<'_>) -> Result<()> {
        self.batch.push(job);
        if self.batch.len() >= BATCH {
            self.flush(shared)?;
        }
        Ok(())
    }

    /// Hands the jobs queued so far to the writers.
    pub fn flush(&mut self, shared: &Shared<'_>) -> Result<()> {
        if !self.batch.is_empty() {
            let batch = Batch {
                jobs: std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH)),
                block: self.block.take(),
            };
            if self.tx.send(batch).is_err() {
                return Err(shared.stop());
            }
        }
        Ok(())
    }
}

/// A new job queue; its bound is the pool (every batch holds a block).
pub(crate) fn jobs() -> (Queue, Jobs) {
    let (tx, rx) = mpsc::sync_channel(BLOCKS);
    let queue = Queue {
        tx,
        batch: Vec::with_capacity(BATCH),
        block: None,
    };
    (queue, Mutex::new(rx))
}

/// A channel for the blocks after the first of one large file.
pub(crate) fn file_queue() -> (SyncSender<Block>, Receiver<Block>) {
    mpsc::sync_channel(FILE_QUEUE)
}

/// The `(job number, blake3)` of the files of one batch.
pub(crate) type Hashes = Vec<(u32, [u8; 32])>;

/// One writer thread's loop: until the parser drops the job sender.
/// Sends `(job number, blake3)` of every file it wrote to `done`, once
/// per batch.
pub(crate) fn run(shared: &Shared<'_>, jobs: &Jobs, free: Sender<Block>, done: Sender<Hashes>) {
    lower_priority();
    loop {
        let batch = {
            let Ok(queue) = jobs.lock() else { break };
            match queue.recv() {
                Ok(batch) => batch,
                Err(_) => break,
            }
        };
        let mut hashes = Vec::with_capacity(batch.jobs.len());
        let packed = batch.block.as_ref().map_or(&[][..], |b| &b.buf[..b.len]);
        for job in batch.jobs {
            if let Some(hash) = one(shared, job, packed, &free) {
                hashes.push(hash);
            }
        }
        if let Some(block) = batch.block {
            let _ = free.send(block);
        }
        if !hashes.is_empty() {
            let _ = done.send(hashes);
        }
    }
}

/// Writes one job's file (its packed bytes are in `packed`, the batch's
/// block), returning its own blocks to the pool whatever happens, and
/// returns its hash or keeps its error.
fn one(
    shared: &Shared<'_>,
    job: Job,
    packed: &[u8],
    free: &Sender<Block>,
) -> Option<(u32, [u8; 32])> {
    let Job {
        dir,
        name,
        path,
        number,
        exec,
        size,
        data,
    } = job;
    // After a failure nothing more is written, but every block goes back.
    let failed = shared.failed();
    let result = match data {
        Data::Packed { .. } if failed => Ok(None),
        Data::Packed { start, len } => write(
            shared,
            &dir,
            &name,
            exec,
            size,
            &packed[start..start + len],
            None,
            free,
        ),
        Data::Own { first, rest } => {
            let result = if failed {
                Ok(None)
            } else {
                write(
                    shared,
                    &dir,
                    &name,
                    exec,
                    size,
                    &first.buf[..first.len],
                    Some(&rest),
                    free,
                )
            };
            let _ = free.send(first);
            // Whatever happened, the rest of the file's blocks go back.
            for block in rest.iter() {
                let _ = free.send(block);
            }
            result
        }
    };
    match result {
        Ok(Some(hash)) => Some((number, hash)),
        Ok(None) => None,
        Err((op, e)) => {
            shared.fail(FsError::new(op, shared.staging.join(&path), e).into());
            None
        }
    }
}

/// A failed call and its error; the caller adds the path.
type WriteError = (&'static str, std::io::Error);

fn fs_err(op: &'static str) -> impl Fn(nix::errno::Errno) -> WriteError {
    move |errno| (op, errno.into())
}

/// Creates the file and writes and hashes its bytes: `first`, then (for
/// a file larger than a block) the blocks of `rest`. `Ok(None)`: the
/// parser stopped before sending every block (it reports why).
#[allow(clippy::too_many_arguments)]
fn write(
    shared: &Shared<'_>,
    dir: &OwnedFd,
    name: &CString,
    exec: bool,
    size: u64,
    first: &[u8],
    rest: Option<&Receiver<Block>>,
    free: &Sender<Block>,
) -> std::result::Result<Option<[u8; 32]>, WriteError> {
    let mode = Mode::from_bits_truncate(file_mode(exec));
    let fd = openat(
        dir,
        name.as_c_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(fs_err("create"))?;
    let mut file = File::from(fd);
    let mut hasher = blake3::Hasher::new();
    hasher.update(first);
    file.write_all(first).map_err(|e| ("write", e))?;
    let mut written = first.len() as u64;
    if let Some(rest) = rest {
        while written < size {
            let Ok(block) = rest.recv() else {
                return Ok(None);
            };
            let data = &block.buf[..block.len];
            hasher.update(data);
            let wrote = file.write_all(data);
            written += block.len as u64;
            let _ = free.send(block);
            wrote.map_err(|e| ("write", e))?;
        }
    }
    if shared.chmod_needed {
        // The umask removed bits from the creation mode.
        nix::sys::stat::fchmod(&file, mode).map_err(fs_err("chmod"))?;
    }
    Ok(Some(*hasher.finalize().as_bytes()))
}

#[cfg(test)]
mod tests {
    /// The calling thread's nice value (field 19 of its stat line).
    fn thread_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn a_writer_lowers_its_own_priority_and_nobody_else_s() {
        let before = thread_nice();
        let writer = std::thread::spawn(|| {
            super::lower_priority();
            thread_nice()
        })
        .join()
        .unwrap();
        assert_eq!(writer, (before + super::WRITER_NICE).min(19));
        assert_eq!(thread_nice(), before);
    }
}
