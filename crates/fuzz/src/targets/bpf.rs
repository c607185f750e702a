//! Classic BPF ([`umlvnf_packet::bpf`]): blob decoding, the validator (against the kernel's
//! own check) and the interpreter.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use umlvnf_packet::bpf::{self, BpfInsn};

use super::kind;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "bpf",
    about: "bpf::from_blob (decode and validate), to_blob of what it decoded, bpf::validate \
            agreeing with the kernel (SO_ATTACH_FILTER) on every program, bpf::run on valid and \
            invalid programs",
    run,
    max_len: 8 * 64,
    dictionary: &[
        // ret #262144, ret a, ld [12], jeq #0x800, ldxb 4*([14]&0xf), ld M[0], st M[15]
        b"\x06\x00\x00\x00\x00\x00\x04\x00",
        b"\x16\x00\x00\x00\x00\x00\x00\x00",
        b"\x28\x00\x00\x00\x0c\x00\x00\x00",
        b"\x15\x00\x00\x01\x00\x08\x00\x00",
        b"\xb1\x00\x00\x00\x0e\x00\x00\x00",
        b"\x60\x00\x00\x00\x00\x00\x00\x00",
        b"\x02\x00\x00\x00\x0f\x00\x00\x00",
        b"\x00\xf0\xff\xff",
    ],
};

/// An Ethernet/IPv4/ICMP echo request, for programs to look at.
const FRAME: &[u8] = &[
    0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00, 0x45, 0, 0, 28, 0, 1, 0x40, 0, 64,
    1, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2, 8, 0, 0xf7, 0xff, 0, 0, 0, 0,
];

/// Instructions of `blob` without any check (8 bytes each, a short tail left out).
fn raw(blob: &[u8]) -> Vec<BpfInsn> {
    blob.chunks_exact(bpf::INSN_LEN)
        .map(|c| BpfInsn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

thread_local! {
    /// A UDP socket to attach programs to (never bound, never used for traffic).
    static SOCKET: RefCell<Option<OwnedFd>> = const { RefCell::new(None) };
}

/// Whether the kernel accepts `prog` as a socket filter; `None` when no socket could be made.
fn kernel_accepts(prog: &[BpfInsn]) -> Option<bool> {
    SOCKET.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            // SAFETY: a plain socket(2) call; the descriptor is checked and then owned.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return None;
            }
            // SAFETY: `fd` was just returned by socket(2) and belongs to nobody else.
            *s = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let fd = s.as_ref()?.as_raw_fd();
        let filters: Vec<libc::sock_filter> = prog
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(filters.len()).ok()?,
            filter: filters.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `fprog` points at `filters`, which outlives the call; the kernel copies the
        // program and does not keep the pointer.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &fprog as *const libc::sock_fprog as *const libc::c_void,
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        Some(r == 0)
    })
}

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    // The interpreter must also survive programs nothing checked.
    let unchecked = raw(data);
    for frame in [FRAME, data, &[]] {
        let _ = bpf::run(&unchecked, frame);
    }
    // The validator and the kernel agree on every program, in both directions.
    if !unchecked.is_empty() {
        if let Some(accepted) = kernel_accepts(&unchecked) {
            let valid = bpf::validate(&unchecked);
            assert_eq!(
                valid.is_ok(),
                accepted,
                "validate says {valid:?} but the kernel {} the program",
                if accepted { "accepts" } else { "refuses" }
            );
        }
    }
    match bpf::from_blob(data) {
        Ok(prog) => {
            assert_eq!(bpf::to_blob(&prog), data, "to_blob gives back the blob");
            assert!(bpf::validate(&prog).is_ok());
            let verdicts: Vec<u32> = [FRAME, data, &[]]
                .iter()
                .map(|f| bpf::run(&prog, f))
                .collect();
            1 + u64::from(verdicts[0] != 0) * 2 + u64::from(verdicts[2] != 0) * 4
        }
        Err(e) => kind("bpf", &e.to_string()),
    }
}
