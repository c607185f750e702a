//! Checking a program the way the kernel's `bpf_check_classic` does before attaching it.

use super::op::*;
use super::{BpfError, BpfInsn, MAX_INSNS};

/// Checks that the kernel would accept `prog` as a socket filter: 1 to 4096 instructions,
/// known opcodes, scratch-memory slots below 16, no constant division by zero, constant
/// shifts below 32, jumps inside the program, and a `ret` as the last instruction.
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
                if !matches!(rval(code), K | A | X) || code & !0x1f != 0 {
                    return bad("unknown return opcode");
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
        Some(last) if class(last.code) == RET => Ok(()),
        _ => Err(BpfError::Invalid {
            index: prog.len() - 1,
            reason: "the last instruction must be a ret",
        }),
    }
}
