//! A deterministic, seeded byte mutator: bit flips, interesting values, byte inserts and
//! deletes, copies within an input, dictionary tokens and splices between corpus entries.

/// splitmix64: a small deterministic generator (any seed, including 0).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Values that often sit on boundaries, as 1, 2, 4 and 8 byte patterns.
const INTERESTING_8: &[u8] = &[
    0, 1, 2, 0x0f, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff,
];
const INTERESTING_16: &[u16] = &[
    0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xfffe, 0xffff,
];
const INTERESTING_32: &[u32] = &[
    0,
    1,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// Mutates inputs of one target.
#[derive(Debug)]
pub struct Mutator {
    rng: Rng,
    max_len: usize,
    dictionary: &'static [&'static [u8]],
}

impl Mutator {
    /// A mutator seeded with `seed` whose results are at most `max_len` bytes long, inserting
    /// tokens of `dictionary` among its other mutations.
    pub fn new(seed: u64, max_len: usize, dictionary: &'static [&'static [u8]]) -> Mutator {
        Mutator {
            rng: Rng::new(seed),
            max_len: max_len.max(1),
            dictionary,
        }
    }

    /// The generator, to pick corpus entries with the same stream.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// A new input made from `base` by 1 to 8 stacked mutations; `other` is another corpus
    /// entry for splices.
    pub fn mutate(&mut self, base: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = base.to_vec();
        let rounds = 1 + self.rng.below(8);
        for _ in 0..rounds {
            self.once(&mut data, other);
        }
        data.truncate(self.max_len);
        data
    }

    fn once(&mut self, data: &mut Vec<u8>, other: &[u8]) {
        let r = &mut self.rng;
        let len = data.len();
        match r.below(14) {
            // Flip one bit.
            0 | 1 if len > 0 => {
                let i = r.below(len);
                data[i] ^= 1 << r.below(8);
            }
            // A random byte.
            2 if len > 0 => {
                let i = r.below(len);
                data[i] = r.next_u64() as u8;
            }
            // An interesting byte.
            3 if len > 0 => {
                let i = r.below(len);
                data[i] = INTERESTING_8[r.below(INTERESTING_8.len())];
            }
            // An interesting 16-bit value, either byte order.
            4 if len >= 2 => {
                let i = r.below(len - 1);
                let v = INTERESTING_16[r.below(INTERESTING_16.len())];
                let b = if r.one_in(2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                data[i..i + 2].copy_from_slice(&b);
            }
            // An interesting 32-bit value, either byte order.
            5 if len >= 4 => {
                let i = r.below(len - 3);
                let v = INTERESTING_32[r.below(INTERESTING_32.len())];
                let b = if r.one_in(2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                data[i..i + 4].copy_from_slice(&b);
            }
            // Add or subtract a little from a byte.
            6 if len > 0 => {
                let i = r.below(len);
                let d = 1 + r.below(16) as u8;
                data[i] = if r.one_in(2) {
                    data[i].wrapping_add(d)
                } else {
                    data[i].wrapping_sub(d)
                };
            }
            // Insert random bytes.
            7 => {
                let at = r.below(len + 1);
                let n = 1 + r.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            // Delete a range.
            8 if len > 0 => {
                let at = r.below(len);
                let n = 1 + r.below((len - at).min(32));
                data.drain(at..at + n);
            }
            // Duplicate a range of the input somewhere in it.
            9 if len > 0 => {
                let from = r.below(len);
                let n = 1 + r.below((len - from).min(64));
                let chunk = data[from..from + n].to_vec();
                let at = r.below(len + 1);
                data.splice(at..at, chunk);
            }
            // Insert or overwrite with a dictionary token.
            10 | 11 if !self.dictionary.is_empty() => {
                let token = self.dictionary[r.below(self.dictionary.len())];
                let at = r.below(len + 1);
                if r.one_in(2) || at + token.len() > len {
                    data.splice(at..at, token.iter().copied());
                } else {
                    data[at..at + token.len()].copy_from_slice(token);
                }
            }
            // Splice: a prefix of this input and a suffix of another.
            12 if !other.is_empty() => {
                let cut = r.below(len + 1);
                let from = r.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            // Insert a piece of another input.
            13 if !other.is_empty() => {
                let from = r.below(other.len());
                let n = 1 + r.below((other.len() - from).min(64));
                let at = r.below(len + 1);
                data.splice(at..at, other[from..from + n].iter().copied());
            }
            // The chosen mutation does not fit this input: truncate or grow instead.
            _ => {
                if len > 0 && r.one_in(2) {
                    data.truncate(r.below(len));
                } else {
                    data.push(r.next_u64() as u8);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_mutations() {
        let mut a = Mutator::new(7, 64, &[b"nodes:"]);
        let mut b = Mutator::new(7, 64, &[b"nodes:"]);
        let mut c = Mutator::new(8, 64, &[b"nodes:"]);
        let base = b"name: lab\nnodes: {}\n";
        let (mut same, mut differ) = (0, 0);
        for _ in 0..200 {
            let x = a.mutate(base, b"links: []");
            assert_eq!(x, b.mutate(base, b"links: []"));
            assert!(x.len() <= 64);
            if x == c.mutate(base, b"links: []") {
                same += 1;
            } else {
                differ += 1;
            }
        }
        assert!(
            differ > same,
            "seeds 7 and 8 gave {same} equal inputs of 200"
        );
    }

    #[test]
    fn mutations_change_inputs_and_grow_from_nothing() {
        let mut m = Mutator::new(1, 4096, &[]);
        let changed = (0..100)
            .filter(|_| m.mutate(b"abcdef", b"") != b"abcdef")
            .count();
        assert!(changed > 90, "{changed}");
        let grown = (0..100).filter(|_| !m.mutate(b"", b"").is_empty()).count();
        assert!(grown > 20, "{grown}");
    }
}
