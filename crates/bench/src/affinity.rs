//! Pinning the calling thread to a CPU.

use crate::error::Result;

/// Number of CPUs this process may run on (at least 1).
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread to CPU `cpu` (taken modulo [`cpu_count`], so placements written
/// for two cores still work on one).
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    Ok(umlvnf_host::pin_current_thread(cpu % cpu_count())?)
}

/// CLOCK_MONOTONIC now, in nanoseconds.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
