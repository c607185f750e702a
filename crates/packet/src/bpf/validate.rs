//! Checking a program the way the kernel's `bpf_check_classic` does before attaching it.

use super::op::*;
use super::{BpfError, BpfInsn, MAX_INSNS};

/// `SKF_AD_OFF`: packet loads at this offset and above are the kernel's ancillary loads.
const SKF_AD_OFF: u32 = 0xffff_f000;
/// `SKF_AD_MAX`: ancillary loads are `SKF_AD_OFF` plus a multiple of 4 below this.
const SKF_AD_MAX: u32 = 64;

/// Checks that the kernel would accept `prog` as a socket filter, as `bpf_check_classic`
/// does: 1 to 4096 instructions, opcodes the kernel knows (`ret` only of a constant or A,
/// `neg` only in its constant form), ancillary loads the kernel knows, scratch-memory slots
/// below 16 and each one stored before any path loads it, no constant division by zero,
/// constant shifts below 32, jumps inside the program, and a `ret` as the last instruction.
pub fn validate(prog: &[BpfInsn]) -> Result<(), BpfError> {
    if prog.is_empty() {
        return Err(BpfError::EmptyProgram);
    }
    if prog.len() > MAX_INSNS {
        return Err(BpfError::TooLong { count: prog.len() });
    }
    for (index, ins) in prog.iter().enumerate() {
        let bad = |reason| Err(BpfError::Invalid { index, reason });
        let code = ins.code;
        let remaining = prog.len() - index - 1;
        match class(code) {
            LD | LDX => {
                let ok = match (class(code), mode(code)) {
                    (_, IMM) | (_, LEN) => size(code) == W,
                    (_, MEM) => size(code) == W,
                    (LD, ABS) | (LD, IND) => size(code) != 0x18,
                    (LDX, MSH) => size(code) == B,
                    _ => false,
                };
                if !ok || code & !0x00ff != 0 {
                    return bad("unknown load opcode");
                }
                if mode(code) == MEM && ins.k as usize >= MEMWORDS {
                    return bad("scratch memory slots are 0 to 15");
                }
                let ancillary = ins.k.wrapping_sub(SKF_AD_OFF);
                if class(code) == LD
                    && mode(code) == ABS
                    && ins.k >= SKF_AD_OFF
                    && (ancillary >= SKF_AD_MAX || ancillary % 4 != 0)
                {
                    return bad(
                        "unknown ancillary load (offsets from 0xfffff000 are the kernel's)",
                    );
                }
            }
            ST | STX => {
                if code & !0x07 != 0 {
                    return bad("unknown store opcode");
                }
                if ins.k as usize >= MEMWORDS {
                    return bad("scratch memory slots are 0 to 15");
                }
            }
            ALU => {
                let op = alu_op(code);
                if op > XOR || code & !0x00ff != 0 || code & 0x07 != ALU {
                    return bad("unknown ALU opcode");
                }
                if op == NEG && src(code) == X {
                    return bad("unknown ALU opcode (neg takes no operand)");
                }
                if src(code) == K {
                    if (op == DIV || op == MOD) && ins.k == 0 {
                        return bad("division by the constant 0");
                    }
                    if (op == LSH || op == RSH) && ins.k >= 32 {
                        return bad("constant shifts must be below 32");
                    }
                }
            }
            JMP => {
                let op = alu_op(code);
                if op > JSET || code & !0x00ff != 0 || (op == JA && src(code) == X) {
                    return bad("unknown jump opcode");
                }
                let in_range = if op == JA {
                    (ins.k as usize) < remaining
                } else {
                    usize::from(ins.jt) < remaining && usize::from(ins.jf) < remaining
                };
                if !in_range {
                    return bad("jumps must land inside the program");
                }
            }
            RET => {
                if !matches!(rval(code), K | A) || code & !0x1f != 0 {
                    return bad("unknown return opcode (the kernel returns a constant or A)");
                }
            }
            MISC => {
                if !matches!(misc_op(code), TAX | TXA) || code & !0xff != 0 {
                    return bad("unknown misc opcode (only tax and txa exist)");
                }
            }
            _ => return bad("unknown instruction class"),
        }
    }
    match prog.last() {
        Some(last) if class(last.code) == RET => loads_after_stores(prog),
        _ => Err(BpfError::Invalid {
            index: prog.len() - 1,
            reason: "the last instruction must be a ret",
        }),
    }
}

/// Checks that every load from scratch memory follows a store to that slot on every path, as
/// the kernel's `check_load_and_stores` does (with its rules: a jump passes the slots stored
/// so far to its targets, and the instruction after a jump starts from what jumps to it).
/// `prog` has passed the opcode and jump checks.
fn loads_after_stores(prog: &[BpfInsn]) -> Result<(), BpfError> {
    let mut masks = vec![u16::MAX; prog.len()];
    let mut valid = 0u16;
    for (pc, ins) in prog.iter().enumerate() {
        valid &= masks[pc];
        let slot = 1u16.checked_shl(ins.k).unwrap_or(0);
        let mut mark = |off: usize, valid: u16| {
            if let Some(m) = masks.get_mut(pc.saturating_add(1).saturating_add(off)) {
                *m &= valid;
            }
        };
        match class(ins.code) {
            ST | STX => valid |= slot,
            LD | LDX if mode(ins.code) == MEM && valid & slot == 0 => {
                return Err(BpfError::Invalid {
                    index: pc,
                    reason: "a scratch memory slot is loaded before anything is stored in it",
                });
            }
            JMP => {
                if alu_op(ins.code) == JA {
                    mark(ins.k as usize, valid);
                } else {
                    mark(usize::from(ins.jt), valid);
                    mark(usize::from(ins.jf), valid);
                }
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> BpfInsn {
        BpfInsn { code, jt, jf, k }
    }

    fn reason(prog: &[BpfInsn]) -> Option<(usize, &'static str)> {
        match validate(prog) {
            Ok(()) => None,
            Err(BpfError::Invalid { index, reason }) => Some((index, reason)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn refuses_what_the_kernel_refuses() {
        // `ret x` and `neg x` are not kernel opcodes (the kernel answers EINVAL).
        let ret_x = [ins(RET | A, 0, 0, 0), ins(RET | X, 0, 0, 0)];
        assert_eq!(reason(&ret_x).map(|r| r.0), Some(1));
        let neg_x = [ins(ALU | NEG | X, 0, 0, 0), ins(RET | A, 0, 0, 0)];
        assert_eq!(reason(&neg_x).map(|r| r.0), Some(0));
        assert_eq!(
            reason(&[ins(ALU | NEG, 0, 0, 0), ins(RET | A, 0, 0, 0)]),
            None
        );
        // Ancillary loads: known ones pass, others do not.
        for (k, ok) in [
            (0xffff_f004, true),
            (0xffff_f03c, true),
            (0xffff_f040, false),
            (0xffff_f002, false),
            (0xffff_ffff, false),
            (0xfff0_0000, true), // SKF_NET_OFF: a packet load, refused at run time only
        ] {
            let prog = [ins(LD | B | ABS, 0, 0, k), ins(RET | A, 0, 0, 0)];
            assert_eq!(reason(&prog).is_none(), ok, "k = {k:#x}");
        }
        // Scratch memory must be stored before it is loaded, on every path.
        let unset = [ins(LD | W | MEM, 0, 0, 3), ins(RET | A, 0, 0, 0)];
        assert_eq!(reason(&unset).map(|r| r.0), Some(0));
        let set = [
            ins(ST, 0, 0, 3),
            ins(LDX | W | MEM, 0, 0, 3),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(reason(&set), None);
        // One branch skips the store: the load after the join is refused.
        let branch = [
            ins(JMP | JEQ | K, 0, 1, 7),
            ins(ST, 0, 0, 1),
            ins(LD | W | MEM, 0, 0, 1),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(reason(&branch).map(|r| r.0), Some(2));
        // Both branches store: accepted.
        let both = [
            ins(ST, 0, 0, 1),
            ins(JMP | JEQ | K, 0, 1, 7),
            ins(LD | W | IMM, 0, 0, 1),
            ins(LD | W | MEM, 0, 0, 1),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(reason(&both), None);
    }
}
