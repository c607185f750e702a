//! Classic BPF: compiling tcpdump expressions with libpcap, UML `bpffile=` blobs, checking
//! programs like the kernel does, and a small interpreter for userspace ends and tests.

mod compile;
mod interp;
mod validate;

pub use compile::{compile, LIBPCAP_SNAPLEN};
pub use interp::run;
pub use validate::validate;

/// Most instructions the kernel accepts in one classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;
/// Bytes per instruction in a blob.
pub const INSN_LEN: usize = 8;

/// One classic BPF instruction, as `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode (class, size, mode, operation, source bits).
    pub code: u16,
    /// Jump offset when the condition is true.
    pub jt: u8,
    /// Jump offset when the condition is false.
    pub jf: u8,
    /// Generic field: constant, offset, memory slot.
    pub k: u32,
}

/// Why a BPF program could not be compiled, read or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpfError {
    /// libpcap refused the expression.
    #[error("libpcap cannot compile the filter expression `{expr}`: {message}")]
    Compile {
        /// The expression as given.
        expr: String,
        /// libpcap's message (`pcap_geterr`).
        message: String,
    },
    /// The expression contains a NUL byte.
    #[error("the filter expression {expr:?} contains a NUL byte; a tcpdump expression must be plain text")]
    NulInExpression {
        /// The expression as given.
        expr: String,
    },
    /// `pcap_open_dead` failed.
    #[error("libpcap could not create a capture handle for compiling (pcap_open_dead returned NULL; out of memory?)")]
    OpenDead,
    /// A blob's length is not a multiple of 8.
    #[error(
        "a BPF program blob must be a whole number of 8-byte instructions, but it has {len} bytes"
    )]
    BlobLength {
        /// The blob length.
        len: usize,
    },
    /// The program has no instructions.
    #[error("a BPF program needs at least one instruction (`ret #262144` accepts every frame)")]
    EmptyProgram,
    /// The program has more than [`MAX_INSNS`] instructions.
    #[error("a BPF program may have at most 4096 instructions, but this one has {count}")]
    TooLong {
        /// The instruction count.
        count: usize,
    },
    /// An instruction the kernel would refuse.
    #[error("BPF instruction {index} is invalid: {reason}")]
    Invalid {
        /// Index of the offending instruction.
        index: usize,
        /// What is wrong and what would be valid.
        reason: &'static str,
    },
}

/// Encodes a program in UML's `bpffile=` format: 8 bytes per instruction,
/// `{u16 code; u8 jt; u8 jf; u32 k}` in host byte order, no header.
pub fn to_blob(prog: &[BpfInsn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prog.len() * INSN_LEN);
    for i in prog {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

/// `PACKET_OUTGOING` as the kernel's `skb->pkt_type` reads it.
pub const PACKET_OUTGOING: u32 = 4;
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: the ancillary load of the frame's packet type.
const SKF_AD_PKTTYPE_LOAD: u32 = 0xffff_f000 + 4;
/// What a program returns to keep a whole frame.
pub const ACCEPT: u32 = 262_144;

/// A program that accepts every frame (`ret #262144`).
pub fn accept_all() -> Vec<BpfInsn> {
    vec![BpfInsn {
        code: op::RET | op::K,
        jt: 0,
        jf: 0,
        k: ACCEPT,
    }]
}

/// `prog` preceded by a check that drops frames the socket's own interface sends
/// (`PACKET_OUTGOING`): a packet socket on a host interface otherwise also receives every
/// frame sent through that interface, which hands a UML `raw` guest back what it sent (and
/// loops what it bridges). Only for programs the kernel runs: [`run`] does not evaluate
/// ancillary loads and rejects every frame of the result.
pub fn drop_outgoing(prog: &[BpfInsn]) -> Vec<BpfInsn> {
    let mut out = Vec::with_capacity(prog.len() + 3);
    out.push(BpfInsn {
        code: op::LD | op::W | op::ABS,
        jt: 0,
        jf: 0,
        k: SKF_AD_PKTTYPE_LOAD,
    });
    // Outgoing: fall through to the drop; otherwise skip it and run `prog`.
    out.push(BpfInsn {
        code: op::JMP | op::JEQ | op::K,
        jt: 0,
        jf: 1,
        k: PACKET_OUTGOING,
    });
    out.push(BpfInsn {
        code: op::RET | op::K,
        jt: 0,
        jf: 0,
        k: 0,
    });
    out.extend_from_slice(prog);
    out
}

/// Decodes a `bpffile=` blob (see [`to_blob`]) and checks it with [`validate`].
pub fn from_blob(blob: &[u8]) -> Result<Vec<BpfInsn>, BpfError> {
    let chunks = blob.chunks_exact(INSN_LEN);
    if !chunks.remainder().is_empty() {
        return Err(BpfError::BlobLength { len: blob.len() });
    }
    let prog: Vec<BpfInsn> = chunks
        .map(|c| {
            let mut b = [0u8; INSN_LEN];
            b.copy_from_slice(c);
            BpfInsn {
                code: u16::from_ne_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            }
        })
        .collect();
    validate(&prog)?;
    Ok(prog)
}

/// Opcode field helpers shared by the interpreter and the validator.
pub(crate) mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;

    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;

    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;

    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;

    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;

    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;

    /// Scratch memory slots (`BPF_MEMWORDS`).
    pub const MEMWORDS: usize = 16;

    pub fn class(code: u16) -> u16 {
        code & 0x07
    }
    pub fn size(code: u16) -> u16 {
        code & 0x18
    }
    pub fn mode(code: u16) -> u16 {
        code & 0xe0
    }
    pub fn alu_op(code: u16) -> u16 {
        code & 0xf0
    }
    pub fn src(code: u16) -> u16 {
        code & 0x08
    }
    pub fn rval(code: u16) -> u16 {
        code & 0x18
    }
    pub fn misc_op(code: u16) -> u16 {
        code & 0xf8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trip_and_errors() {
        let prog = vec![
            BpfInsn {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12,
            },
            BpfInsn {
                code: 0x15,
                jt: 0,
                jf: 1,
                k: 0x0800,
            },
            BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 262144,
            },
            BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            },
        ];
        let blob = to_blob(&prog);
        assert_eq!(blob.len(), 32);
        assert_eq!(&blob[0..2], &0x28u16.to_ne_bytes());
        assert_eq!(&blob[12..16], &0x0800u32.to_ne_bytes());
        assert_eq!(blob[10], 0);
        assert_eq!(blob[11], 1);
        assert_eq!(from_blob(&blob).unwrap(), prog);
        assert_eq!(
            from_blob(&blob[..31]),
            Err(BpfError::BlobLength { len: 31 })
        );
        assert_eq!(from_blob(&[]), Err(BpfError::EmptyProgram));
        // A jump past the end is refused like the kernel does.
        let bad = to_blob(&[
            BpfInsn {
                code: 0x15,
                jt: 5,
                jf: 0,
                k: 1,
            },
            BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            },
        ]);
        assert!(matches!(
            from_blob(&bad),
            Err(BpfError::Invalid { index: 0, .. })
        ));
    }
}

#[cfg(test)]
mod outgoing_tests {
    use super::*;

    #[test]
    fn drop_outgoing_wraps_a_program_the_kernel_accepts() {
        let wrapped = drop_outgoing(&accept_all());
        validate(&wrapped).expect("valid");
        assert_eq!(wrapped.len(), 4);
        // The same bytes as `tcpdump -ddd` would print for "ld #pktType; jeq #4 ..." code.
        assert_eq!(
            (wrapped[0].code, wrapped[0].k),
            (0x20, 0xffff_f004),
            "ld [SKF_AD_OFF + SKF_AD_PKTTYPE]"
        );
        assert_eq!(
            (wrapped[1].code, wrapped[1].jt, wrapped[1].jf),
            (0x15, 0, 1)
        );
        assert_eq!((wrapped[2].code, wrapped[2].k), (0x06, 0));
        assert_eq!(run(&accept_all(), &[0u8; 60]), ACCEPT);
        let icmp = compile("icmp").expect("compiles");
        let w = drop_outgoing(&icmp);
        validate(&w).expect("valid");
        assert_eq!(&w[3..], &icmp[..]);
    }
}
