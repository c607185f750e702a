//! Helpers shared by the root tests: the root check, the appliance kernel and clean-up guards.

#![allow(dead_code)]

use umlvnf_host::{netns_del, netns_exists, Rtnl};
use umlvnf_image::{BuiltKernel, KernelStore};
use umlvnf_kernel::Flavour;

/// Panics unless the test runs as root (root tests must never pass silently).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

/// umlvnf's appliance kernel (SMP flavour, everything built in) from the kernel store; panics
/// saying how to build it when the store has none.
pub fn appliance_kernel() -> BuiltKernel {
    KernelStore::new(KernelStore::default_dir())
        .current(Flavour::Smp)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A name unique to this process and test: `prefix` + pid.
pub fn uniq(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id())
}

/// Deletes a named namespace when dropped.
pub struct NetnsGuard(pub String);

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if netns_exists(&self.0) {
            let _ = netns_del(&self.0);
        }
    }
}

/// Deletes an interface of the host namespace when dropped (if it still exists).
pub struct LinkGuard(pub String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if let Ok(rtnl) = Rtnl::root() {
            if rtnl.link_exists(&self.0).unwrap_or(false) {
                let _ = rtnl.link_del(&self.0);
            }
        }
    }
}

/// The inode of the calling thread's network namespace.
pub fn thread_netns_id() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .expect("read /proc/thread-self/ns/net")
        .to_string_lossy()
        .into_owned()
}
