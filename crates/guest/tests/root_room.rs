//! `check_tmpdir` against real tmpfs mounts.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::require_root;
use umlvnf_guest::{check_tmpdir, RoomError};

/// Unmounts on drop, even when the test fails.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(dir: &Path, options: &str) -> Mounted {
        let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let data = CString::new(options).unwrap();
        // SAFETY: all pointers are NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        Mounted(dir.to_path_buf())
    }

    fn remount_noexec(&self) {
        let target = CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_NOEXEC,
                c"size=4m".as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "remount noexec: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let target = CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: NUL-terminated path that outlives the call.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn root_check_tmpdir_rejects_small_and_noexec_tmpfs() {
    require_root();
    let dir = tempfile::Builder::new()
        .prefix("umlvnf-room-")
        .tempdir()
        .unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Mounted::tmpfs(&mnt, "size=4m");
    let sub = mnt.join("sub");
    std::fs::create_dir(&sub).unwrap();

    match check_tmpdir(&sub, 128 << 20) {
        Err(RoomError::TooSmall { free, needed, .. }) => {
            assert_eq!(needed, 128 << 20);
            assert!(free <= 4 << 20, "free {free}");
            let msg = check_tmpdir(&sub, 128 << 20).unwrap_err().to_string();
            assert!(msg.contains("needs"), "{msg}");
        }
        other => panic!("expected TooSmall, got {other:?}"),
    }
    check_tmpdir(&sub, 1 << 20).unwrap();

    mounted.remount_noexec();
    match check_tmpdir(&sub, 1 << 20) {
        Err(RoomError::NoExec { mount_point, .. }) => {
            assert_eq!(mount_point, std::fs::canonicalize(&mnt).unwrap())
        }
        other => panic!("expected NoExec, got {other:?}"),
    }
    drop(mounted);
    // Back on the parent file system, the directory is fine again.
    std::fs::create_dir_all(&sub).unwrap();
    check_tmpdir(&sub, 1 << 20).unwrap();
}
