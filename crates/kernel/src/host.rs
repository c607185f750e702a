//! What this host offers UML guests, and whether a kernel can boot here at all.

use crate::facts::{KernelFacts, KernelVersion};

/// The first UML release that sizes its FPU register buffer from the host (`host_fp_size`)
/// instead of statically. Older kernels die in their first process on hosts whose XSAVE area
/// is larger than they expect (CPUs with AMX): `ptrace set fp regs failed, errno = 14`.
pub const FP_SIZE_FROM_HOST_SINCE: (u32, u32) = (6, 13);

/// The host CPU features that decide whether a kernel boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostCpu {
    /// The CPU has AMX tiles (`amx_tile` in `/proc/cpuinfo`): the XSAVE area is about 11 KiB.
    pub amx: bool,
}

impl HostCpu {
    /// Reads `/proc/cpuinfo`; an unreadable file counts as no AMX.
    pub fn detect() -> HostCpu {
        let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        HostCpu::from_cpuinfo(&text)
    }

    /// Reads the `flags` lines of `/proc/cpuinfo` text.
    pub fn from_cpuinfo(text: &str) -> HostCpu {
        let amx = text
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "amx_tile"));
        HostCpu { amx }
    }
}

/// The timer frequency of every UML kernel: `arch/um` fixes `CONFIG_HZ` at 100.
pub const UML_HZ: u64 = 100;

/// The `lpj=` value for UML guests on this host (loops per jiffy of the delay loop), from the
/// host's own calibration (`bogomips` in `/proc/cpuinfo`). Given on the command line, it skips
/// the guest's delay-loop calibration, which takes 40-90 ms of every boot. `None` when the
/// host does not say.
pub fn loops_per_jiffy() -> Option<u64> {
    lpj_from_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// Reads the first `bogomips` line of `/proc/cpuinfo` text as loops per jiffy at
/// [`UML_HZ`]: BogoMIPS = lpj × HZ / 500000.
pub fn lpj_from_cpuinfo(text: &str) -> Option<u64> {
    let bogomips: f64 = text
        .lines()
        .find(|l| l.starts_with("bogomips"))?
        .split_once(':')?
        .1
        .trim()
        .parse()
        .ok()?;
    let lpj = (bogomips * 500_000.0 / UML_HZ as f64).round();
    (1.0..1e12).contains(&lpj).then_some(lpj as u64)
}

/// Why `kernel` cannot boot on a host with `cpu`, or `None` if nothing is known against it.
/// The text names the cause and the fix.
pub fn boot_refusal(kernel: &KernelFacts, cpu: HostCpu) -> Option<String> {
    if !cpu.amx {
        return None;
    }
    let (major, minor) = FP_SIZE_FROM_HOST_SINCE;
    let fixed = KernelVersion {
        major,
        minor,
        patch: 0,
    };
    match kernel.version {
        Some(v) if v >= fixed => None,
        found => Some(format!(
            "the kernel {} ({}) cannot boot on this host: its CPU has AMX, and UML kernels \
             before {major}.{minor} size their FPU state statically, so the first guest process \
             dies with `ptrace set fp regs failed, errno = 14`; remove `kernel:` to use umlvnf's \
             appliance kernel (built with `umlvnf kernel build`), or name a UML kernel {major}.{minor} or later",
            kernel.path.display(),
            found.map_or("release unknown".to_string(), |v| format!("release {v}")),
        )),
    }
}

/// True if the host kernel lets UML run guest processes under a seccomp filter: seccomp
/// filters with the `trap` action are available.
pub fn seccomp_available() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .map(|s| s.split_whitespace().any(|a| a == "trap"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn kernel(version: Option<&str>) -> KernelFacts {
        KernelFacts {
            path: PathBuf::from("/usr/bin/linux"),
            version: version.and_then(KernelVersion::parse),
            config: Default::default(),
        }
    }

    #[test]
    fn loops_per_jiffy_come_from_bogomips() {
        let text = "processor\t: 0\nbogomips\t: 3992.49\nprocessor\t: 1\nbogomips\t: 1.0\n";
        assert_eq!(lpj_from_cpuinfo(text), Some(19_962_450));
        assert_eq!(lpj_from_cpuinfo("processor\t: 0\n"), None);
        assert_eq!(lpj_from_cpuinfo("bogomips\t: lots\n"), None);
        assert_eq!(lpj_from_cpuinfo("bogomips\t: -5\n"), None);
        assert_eq!(lpj_from_cpuinfo("bogomips\t: 1e300\n"), None);
    }

    #[test]
    fn old_kernels_are_refused_on_amx_hosts_only() {
        let amx = HostCpu { amx: true };
        let plain = HostCpu { amx: false };
        let why = boot_refusal(&kernel(Some("6.1.176")), amx).expect("refused");
        assert!(why.contains("AMX") && why.contains("6.1.176"), "{why}");
        assert!(why.contains("remove `kernel:`"), "{why}");
        assert_eq!(boot_refusal(&kernel(Some("6.1.176")), plain), None);
        assert_eq!(boot_refusal(&kernel(Some("7.3.4")), amx), None);
        assert_eq!(boot_refusal(&kernel(Some("6.13.0")), amx), None);
        assert!(boot_refusal(&kernel(Some("6.12.9")), amx).is_some());
        assert!(boot_refusal(&kernel(None), amx)
            .unwrap()
            .contains("release unknown"));
    }

    #[test]
    fn cpuinfo_flags_are_read() {
        let with = "processor\t: 0\nflags\t\t: fpu vme amx_bf16 amx_tile amx_int8\n";
        let without = "processor\t: 0\nflags\t\t: fpu vme avx512f\nbugs\t: amx_tile\n";
        assert!(HostCpu::from_cpuinfo(with).amx);
        assert!(!HostCpu::from_cpuinfo(without).amx);
    }
}
