//! CPU affinity: which CPUs the process may use, and pinning a thread to one of them.

use std::io;

use crate::error::{HostError, Result};

/// The CPUs the calling thread may run on (empty if the kernel will not say).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe a live cpu_set_t.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE, so CPU_ISSET reads inside `set`.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pins the calling thread to CPU `cpu`.
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    let action = || format!("pin the calling thread to CPU {cpu}");
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(HostError::os(
            format!(
                "{} (CPUs are numbered 0 to {})",
                action(),
                libc::CPU_SETSIZE - 1
            ),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    // SAFETY: cpu_set_t is plain data; all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above), so CPU_SET writes inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe a live cpu_set_t.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(HostError::os(
            format!("{} (is it online and allowed for this process?)", action()),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_a_thread_to_an_allowed_cpu_and_refuses_others() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        let cpu = *allowed.last().unwrap_or(&0);
        let pinned = std::thread::spawn(move || pin_current_thread(cpu).map(|()| allowed_cpus()))
            .join()
            .unwrap();
        assert_eq!(pinned.unwrap(), vec![cpu]);
        let e = pin_current_thread(1 << 20).unwrap_err().to_string();
        assert!(e.contains("CPU 1048576"), "{e}");
    }
}
