//! Compiling tcpdump filter expressions with libpcap, through the `pcap` crate: a dead capture
//! handle for Ethernet and `pcap_compile`.

use super::{BpfError, BpfInsn};
use std::sync::Mutex;

/// The snap length of the dead handle the `pcap` crate opens, which is what the program's
/// accepting `ret` returns. (`tcpdump -ddd` uses 262144 unless given `-s 65535`.)
pub const LIBPCAP_SNAPLEN: u32 = 65535;

/// Serialises calls into libpcap's compiler (older libpcap versions' parser is not re-entrant).
static COMPILER: Mutex<()> = Mutex::new(());

/// Compiles a tcpdump filter expression for Ethernet frames: `pcap::Capture::dead(ETHERNET)`
/// (libpcap's `pcap_open_dead(DLT_EN10MB, 65535)`) then `compile` with optimisation, whose
/// netmask is 0 (as tcpdump's when it reads a file: `ip broadcast` matches 255.255.255.255 and
/// 0.0.0.0). The accepting `ret` returns [`LIBPCAP_SNAPLEN`]. Errors carry libpcap's own
/// message.
pub fn compile(expr: &str) -> Result<Vec<BpfInsn>, BpfError> {
    if expr.contains('\0') {
        return Err(BpfError::NulInExpression {
            expr: expr.to_owned(),
        });
    }
    let refused = |e: ::pcap::Error| BpfError::Compile {
        expr: expr.to_owned(),
        message: match e {
            ::pcap::Error::PcapError(message) => message,
            other => other.to_string(),
        },
    };
    let _lock = COMPILER.lock().unwrap_or_else(|e| e.into_inner());
    let handle =
        ::pcap::Capture::dead(::pcap::Linktype::ETHERNET).map_err(|_| BpfError::OpenDead)?;
    let program = handle.compile(expr, true).map_err(refused)?;
    let insns = program
        .get_instructions()
        .iter()
        .map(|i| insn(&i.to_string()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| BpfError::Compile {
            expr: expr.to_owned(),
            message: "libpcap's program could not be read back".into(),
        })?;
    if insns.is_empty() {
        return Err(BpfError::EmptyProgram);
    }
    Ok(insns)
}

/// Reads an instruction as the `pcap` crate shows it, `code jt jf k` in decimal (the crate
/// gives no other access to the fields).
fn insn(text: &str) -> Option<BpfInsn> {
    let mut fields = text.split(' ');
    let mut next = || fields.next().map(str::parse::<u32>);
    let (code, jt, jf, k) = (next()?.ok()?, next()?.ok()?, next()?.ok()?, next()?.ok()?);
    fields.next().is_none().then_some(())?;
    Some(BpfInsn {
        code: u16::try_from(code).ok()?,
        jt: u8::try_from(jt).ok()?,
        jf: u8::try_from(jf).ok()?,
        k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_read_back_from_their_text() {
        assert_eq!(
            insn("21 0 3 2048"),
            Some(BpfInsn {
                code: 0x15,
                jt: 0,
                jf: 3,
                k: 2048
            })
        );
        assert_eq!(insn("6 0 0 4294967295").map(|i| i.k), Some(u32::MAX));
        for bad in [
            "",
            "1 2 3",
            "1 2 3 4 5",
            "65536 0 0 0",
            "1 256 0 0",
            "a b c d",
        ] {
            assert_eq!(insn(bad), None, "{bad}");
        }
    }
}
