//! Shared fixtures of the guest integration tests: the appliance kernel, a tiny busybox root image
//! and a per-test lab directory whose guard kills the guest's process group and removes
//! everything on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use umlvnf_guest::{
    spawn, wait_group_gone, ConsolePump, NotifySocket, ProcessId, UmlChild, UmlCommand,
};
use umlvnf_image::{BuiltKernel, KernelStore};
use umlvnf_kernel::Flavour;

/// Panics unless running as root (root tests must never pass silently).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

/// umlvnf's appliance kernel (SMP flavour, everything built in) from the kernel store, which
/// every test guest boots; panics saying how to build it when the store has none.
pub fn appliance_kernel() -> &'static BuiltKernel {
    static KERNEL: OnceLock<BuiltKernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        KernelStore::new(KernelStore::default_dir())
            .current(Flavour::Smp)
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The init script: its behaviour is chosen by `umlvnf_mode=` on the kernel command line
/// (unknown `key=value` kernel arguments become init's environment).
const INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
echo 0 > /proc/sys/kernel/ctrl-alt-del
case "$umlvnf_mode" in
  ignore_cad) trap '' INT ;;
  *) trap 'echo UMLVNF-GOT-CAD; poweroff -f' INT ;;
esac
echo UMLVNF-MARKER-BOOTED
echo hello > /proc/mconsole
if [ "$umlvnf_mode" = panic ]; then
  echo UMLVNF-INIT-EXITS
  exit 3
fi
echo agent-ready > /dev/tty1
(while read -r line; do eval "$line"; done) </dev/console >/dev/console 2>&1 &
while true; do sleep 1 & wait $!; done
"#;

/// Path of the shared test root image (built once, reused across runs).
pub fn rootfs() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let hash = INIT.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let image = dir.join(format!("umlvnf-guest-test-root-{hash:016x}.img"));
        if image.exists() {
            return image;
        }
        let staging = tempfile::tempdir_in(&dir).expect("staging dir");
        let root = staging.path().join("root");
        for d in ["bin", "sbin", "proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static must be installed (/bin/busybox)");
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
            }
        }
        let init = root.join("sbin/init");
        std::fs::write(&init, INIT).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tmp_image = staging.path().join("root.img");
        let st = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&root)
            .arg(&tmp_image)
            .arg("16M")
            .status()
            .expect("mkfs.ext4 (e2fsprogs) must be installed");
        assert!(st.success(), "mkfs.ext4 failed");
        // Atomic publish; a concurrent builder producing the same content is harmless.
        std::fs::rename(&tmp_image, &image).unwrap();
        image
    })
}

/// One test guest's directory, notify socket and processes; cleaned up on drop.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub umid: String,
    pub notify: NotifySocket,
    pub pid: Option<ProcessId>,
}

impl Lab {
    pub fn new(name: &str) -> Lab {
        // Orphaned UML helpers come back to us, so the guards can reap them.
        umlvnf_guest::become_subreaper().unwrap();
        let dir = tempfile::Builder::new()
            .prefix("umlvnf-guest-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("uml")).unwrap();
        std::fs::create_dir(dir.path().join("hostfs")).unwrap();
        let notify = NotifySocket::bind(&dir.path().join("notify.sock")).unwrap();
        Lab {
            umid: format!("{name}{}", std::process::id()),
            dir,
            notify,
            pid: None,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn mconsole_path(&self) -> PathBuf {
        self.path("uml").join(&self.umid).join("mconsole")
    }

    /// The runtime's command line for this lab, with `umlvnf_mode=MODE` for the test init.
    pub fn command(&self, mode: &str) -> UmlCommand {
        let d = self.dir.path().display();
        let argv = vec![
            appliance_kernel().binary().display().to_string(),
            format!("ubd0={d}/root.cow,{}", rootfs().display()),
            "root=/dev/ubda".into(),
            "rw".into(),
            "mem=128M".into(),
            format!("umid={}", self.umid),
            format!("uml_dir={d}/uml"),
            "con=null".into(),
            "con0=fd:0,fd:1".into(),
            "con1=fd:3".into(),
            "ssl=null".into(),
            format!("mconsole=notify:{d}/notify.sock"),
            format!("hostfs={d}/hostfs"),
            "noreboot".into(),
            "init=/sbin/init".into(),
            format!("umlvnf_mode={mode}"),
        ];
        UmlCommand {
            argv,
            log: self.path("uml.log"),
            tmpdir: PathBuf::from("/dev/shm"),
            cpus: None,
            extra_fds: Vec::new(),
            keep_caps: None,
        }
    }

    /// Starts the guest and a console pump logging to `console.log`.
    pub fn boot(&mut self, cmd: &UmlCommand) -> (UmlChild, ConsolePump) {
        let child = spawn(cmd).expect("spawn UML");
        self.pid = Some(child.pid);
        let console = child.console.try_clone().unwrap();
        let pump = ConsolePump::start(console, &self.path("console.log")).unwrap();
        (child, pump)
    }

    /// The UML stderr log, for assertion messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.path("uml.log")).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = pid.kill_group(libc::SIGKILL);
            wait_group_gone(&pid, Duration::from_secs(5));
        }
    }
}
