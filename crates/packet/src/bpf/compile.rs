//! Compiling tcpdump filter expressions with libpcap (`pcap_open_dead` + `pcap_compile`).

use super::{BpfError, BpfInsn};
use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::sync::Mutex;

/// The snap length of the dead handle, which is what the program's accepting `ret` returns.
/// (`tcpdump -ddd` uses 262144 unless given `-s 65535`.)
pub const LIBPCAP_SNAPLEN: u32 = 65535;

const DLT_EN10MB: c_int = 1;
const PCAP_NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// Opaque `pcap_t`.
#[repr(C)]
struct PcapT {
    _private: [u8; 0],
}

/// `struct bpf_insn`.
#[repr(C)]
struct RawInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut RawInsn,
}

#[link(name = "pcap")]
extern "C" {
    fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut PcapT;
    fn pcap_compile(
        p: *mut PcapT,
        fp: *mut BpfProgram,
        s: *const c_char,
        optimize: c_int,
        netmask: u32,
    ) -> c_int;
    fn pcap_geterr(p: *mut PcapT) -> *mut c_char;
    fn pcap_freecode(fp: *mut BpfProgram);
    fn pcap_close(p: *mut PcapT);
}

/// Serialises calls into libpcap's compiler (older libpcap versions' parser is not re-entrant).
static COMPILER: Mutex<()> = Mutex::new(());

/// Closes a `pcap_t` on drop.
struct Handle(*mut PcapT);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: self.0 came from pcap_open_dead, is non-null (checked at construction), and
        // is closed exactly once, here.
        unsafe { pcap_close(self.0) }
    }
}

/// Frees a compiled program on drop.
struct Program(BpfProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was filled by a successful pcap_compile (or is still zeroed, which
        // pcap_freecode accepts), and is freed exactly once, here.
        unsafe { pcap_freecode(&mut self.0) }
    }
}

/// Compiles a tcpdump filter expression for Ethernet frames: libpcap's
/// `pcap_open_dead(DLT_EN10MB, 65535)` then `pcap_compile(optimize = 1,
/// PCAP_NETMASK_UNKNOWN)`. The accepting `ret` returns [`LIBPCAP_SNAPLEN`]. Errors carry
/// libpcap's own message.
pub fn compile(expr: &str) -> Result<Vec<BpfInsn>, BpfError> {
    let c_expr = CString::new(expr).map_err(|_| BpfError::NulInExpression {
        expr: expr.to_owned(),
    })?;
    let _lock = COMPILER.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: pcap_open_dead takes plain integers and returns a new handle or NULL.
    let raw = unsafe { pcap_open_dead(DLT_EN10MB, LIBPCAP_SNAPLEN as c_int) };
    if raw.is_null() {
        return Err(BpfError::OpenDead);
    }
    let handle = Handle(raw);
    let mut prog = Program(BpfProgram {
        bf_len: 0,
        bf_insns: std::ptr::null_mut(),
    });
    // SAFETY: handle.0 is a live pcap_t, prog.0 is a valid bpf_program to fill in, and c_expr
    // is a NUL-terminated string that outlives the call.
    let rc = unsafe {
        pcap_compile(
            handle.0,
            &mut prog.0,
            c_expr.as_ptr(),
            1,
            PCAP_NETMASK_UNKNOWN,
        )
    };
    if rc != 0 {
        // SAFETY: handle.0 is live; pcap_geterr returns a NUL-terminated buffer owned by the
        // handle, which we copy before the handle is closed.
        let msg = unsafe {
            let p = pcap_geterr(handle.0);
            if p.is_null() {
                String::from("unknown libpcap error")
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        return Err(BpfError::Compile {
            expr: expr.to_owned(),
            message: msg,
        });
    }
    let len = prog.0.bf_len as usize;
    if len == 0 || prog.0.bf_insns.is_null() {
        return Err(BpfError::EmptyProgram);
    }
    // SAFETY: after a successful pcap_compile, bf_insns points to bf_len initialised
    // struct bpf_insn values, alive until pcap_freecode (run when `prog` drops, after the copy).
    let raw_insns = unsafe { std::slice::from_raw_parts(prog.0.bf_insns, len) };
    Ok(raw_insns
        .iter()
        .map(|r| BpfInsn {
            code: r.code,
            jt: r.jt,
            jf: r.jf,
            k: r.k,
        })
        .collect())
}
