//! A classic BPF interpreter with Linux socket-filter semantics (no ancillary loads).

use super::op::*;
use super::BpfInsn;

/// Runs `prog` over `frame` and returns what the program returns: the number of bytes to
/// accept (0 = drop; values above `frame.len()` mean the whole frame).
///
/// Like the kernel, it drops (returns 0) on an out-of-bounds packet load, a division by zero,
/// a jump out of the program, an unknown opcode, or running off the end. Linux ancillary
/// loads (negative offsets such as `SKF_AD_OFF`) are not supported and also return 0.
pub fn run(prog: &[BpfInsn], frame: &[u8]) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; MEMWORDS];
    let mut pc: usize = 0;
    let flen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    // Every jump moves forward, so this terminates within prog.len() steps.
    while let Some(ins) = prog.get(pc) {
        pc += 1;
        let code = ins.code;
        let k = ins.k;
        match class(code) {
            LD | LDX => {
                let is_x = class(code) == LDX;
                let v = match (mode(code), is_x) {
                    (IMM, _) => Some(k),
                    (LEN, _) => Some(flen),
                    (MEM, _) => mem.get(k as usize).copied(),
                    (ABS, false) => load(frame, size(code), Some(k)),
                    (IND, false) => load(frame, size(code), x.checked_add(k)),
                    (MSH, true) if size(code) == B => {
                        frame.get(k as usize).map(|b| u32::from(b & 0x0f) * 4)
                    }
                    _ => None,
                };
                let Some(v) = v else { return 0 };
                if is_x {
                    x = v;
                } else {
                    a = v;
                }
            }
            ST | STX => {
                let v = if class(code) == ST { a } else { x };
                match mem.get_mut(k as usize) {
                    Some(slot) => *slot = v,
                    None => return 0,
                }
            }
            ALU => {
                let operand = if src(code) == X { x } else { k };
                a = match alu_op(code) {
                    ADD => a.wrapping_add(operand),
                    SUB => a.wrapping_sub(operand),
                    MUL => a.wrapping_mul(operand),
                    DIV => match a.checked_div(operand) {
                        Some(v) => v,
                        None => return 0,
                    },
                    MOD => match a.checked_rem(operand) {
                        Some(v) => v,
                        None => return 0,
                    },
                    OR => a | operand,
                    AND => a & operand,
                    XOR => a ^ operand,
                    LSH => a.checked_shl(operand).unwrap_or(0),
                    RSH => a.checked_shr(operand).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    _ => return 0,
                };
            }
            JMP => {
                let operand = if src(code) == X { x } else { k };
                let off = match alu_op(code) {
                    JA => k as usize,
                    JEQ => cond(a == operand, ins),
                    JGT => cond(a > operand, ins),
                    JGE => cond(a >= operand, ins),
                    JSET => cond(a & operand != 0, ins),
                    _ => return 0,
                };
                pc = match pc.checked_add(off) {
                    Some(p) if p < prog.len() => p,
                    _ => return 0,
                };
            }
            RET => {
                return match rval(code) {
                    K => k,
                    A => a,
                    X => x,
                    _ => 0,
                }
            }
            MISC => match misc_op(code) {
                TAX => x = a,
                TXA => a = x,
                _ => return 0,
            },
            _ => return 0,
        }
    }
    0
}

/// The jump offset for a conditional jump.
fn cond(taken: bool, ins: &BpfInsn) -> usize {
    usize::from(if taken { ins.jt } else { ins.jf })
}

/// A big-endian packet load of the given size, or None when out of bounds.
fn load(frame: &[u8], size: u16, off: Option<u32>) -> Option<u32> {
    let off = off? as usize;
    let n = match size {
        W => 4,
        H => 2,
        B => 1,
        _ => return None,
    };
    let bytes = frame.get(off..off.checked_add(n)?)?;
    Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> BpfInsn {
        BpfInsn { code, jt, jf, k }
    }

    #[test]
    fn arithmetic_memory_and_msh() {
        // X = 4*(P[0]&0xf); A = X; M[3] = A; A = 7; A += M... via LDX MEM; A = A * X; ret A
        let prog = [
            ins(LDX | B | MSH, 0, 0, 0),
            ins(MISC | TXA, 0, 0, 0),
            ins(ST, 0, 0, 3),
            ins(LD | W | IMM, 0, 0, 7),
            ins(LDX | W | MEM, 0, 0, 3),
            ins(ALU | MUL | X, 0, 0, 0),
            ins(ALU | SUB | K, 0, 0, 1),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(run(&prog, &[0x45]), 7 * 20 - 1);
        assert_eq!(run(&prog, &[]), 0, "MSH out of bounds drops");
        let div0 = [
            ins(LD | W | IMM, 0, 0, 9),
            ins(ALU | DIV | X, 0, 0, 0),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(run(&div0, &[]), 0);
        let len = [ins(LD | W | LEN, 0, 0, 0), ins(RET | A, 0, 0, 0)];
        assert_eq!(run(&len, &[0; 77]), 77);
        let ind = [
            ins(LDX | W | IMM, 0, 0, 2),
            ins(LD | H | IND, 0, 0, 1),
            ins(JMP | JEQ | K, 0, 1, 0x0304),
            ins(RET | K, 0, 0, 1),
            ins(RET | K, 0, 0, 2),
        ];
        assert_eq!(run(&ind, &[0, 1, 2, 3, 4, 5]), 1);
        assert_eq!(run(&ind, &[0, 1, 2, 9, 9, 5]), 2);
        assert_eq!(run(&ind, &[0, 1, 2, 3]), 0, "IND out of bounds drops");
        assert_eq!(run(&[], &[1, 2, 3]), 0);
        assert_eq!(run(&[ins(JMP | JA, 0, 0, 100)], &[]), 0);
        assert_eq!(run(&[ins(0xffff, 0, 0, 0)], &[]), 0);
    }
}
