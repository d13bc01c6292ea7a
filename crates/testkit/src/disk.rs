//! Small loop-mounted ext4 filesystems for disk-exhaustion tests, and the
//! one count knob of the reliability loops.
//!
//! Invariant: every image is unmounted and deleted when its [`LoopFs`] is
//! dropped, also when the test panics (the guard runs during unwinding);
//! each has its own temp dir, so parallel tests never share a mount point.
//! Needs root (`mount -o loop`); [`LoopFs::available`] says whether it can
//! run here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A count for a reliability loop: `TARMAC_<NAME>` from the environment
/// (set by `scripts/reliability.sh --long`), else `default`.
pub fn count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A mounted ext4 image: `mount()` is its root directory.
pub struct LoopFs {
    _dir: tempfile::TempDir,
    mount: PathBuf,
    mounted: bool,
}

impl LoopFs {
    /// Whether loop mounts can be made (root, `mount`, `mkfs.ext4`).
    pub fn available() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        root && Command::new("mkfs.ext4")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// An ext4 filesystem of `megabytes` (at most 64) with at most
    /// `inodes` inodes (ext4 rounds up to a whole group's worth), no
    /// blocks reserved for root (so a fill really fills), mounted
    /// read-write.
    pub fn new(megabytes: u64, inodes: Option<u32>) -> LoopFs {
        assert!(megabytes <= 64, "keep images small: the disk is shared");
        let dir = tempfile::Builder::new()
            .prefix("tarmac-loopfs-")
            .tempdir()
            .expect("temp dir");
        let image = dir.path().join("fs.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).expect("mount point");
        run(Command::new("truncate")
            .arg("-s")
            .arg(format!("{megabytes}M"))
            .arg(&image));
        let mut mkfs = Command::new("mkfs.ext4");
        mkfs.args(["-q", "-F", "-m", "0", "-O", "^has_journal"]);
        if let Some(n) = inodes {
            mkfs.arg("-N").arg(n.to_string());
        }
        run(mkfs.arg(&image));
        let mut fs = LoopFs {
            _dir: dir,
            mount,
            mounted: false,
        };
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&fs.mount));
        fs.mounted = true;
        fs
    }

    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// Remounts read-only (`ro`) or read-write.
    pub fn remount(&self, read_only: bool) {
        let option = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        run(Command::new("mount").args(["-o", option]).arg(&self.mount));
    }

    /// Takes every free block: writes `.fill-<tag>` until ENOSPC. Returns
    /// its path (delete it to give the space back).
    pub fn fill_bytes(&self, tag: &str) -> PathBuf {
        use std::io::Write;
        let path = self.mount.join(format!(".fill-{tag}"));
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0xa5u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
        // Smaller writes take the last partial chunk's blocks too.
        loop {
            match file.write(&[0u8; 512]) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = file.sync_all();
        path
    }

    /// Takes every free inode: empty files under `.inodes-<tag>/`.
    pub fn fill_inodes(&self, tag: &str) -> PathBuf {
        let dir = self.mount.join(format!(".inodes-{tag}"));
        std::fs::create_dir(&dir).expect("inode filler dir");
        for i in 0.. {
            match std::fs::File::create(dir.join(i.to_string())) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("{}: {e}", dir.display()),
            }
        }
        dir
    }

    /// (free bytes, free inodes) as `df` reports them.
    pub fn free(&self) -> (u64, u64) {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S %d"])
            .arg(&self.mount)
            .output()
            .expect("stat -f");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<u64> = text
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        (v[0] * v[1], v[2])
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let ok = Command::new("umount")
                .arg(&self.mount)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                // Busy (a killed child still holds a file): detach lazily
                // so the image file can still be deleted.
                let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
            }
        }
        // Then the TempDir field removes the image and the mount point.
    }
}

fn run(command: &mut Command) {
    let out = command.output().expect("spawn");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
