//! What may stand on a UML command line, and how numbers are written there.

/// True if `value` can stand in a UML option list without injecting options.
pub fn is_uml_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'+' | b'-'))
}

/// True if `value` can stand as a `key=value` value of a vector interface: the characters of
/// [`is_uml_safe`] and `:` (MAC addresses), never `,` or `=`.
pub fn is_option_value_safe(value: &str) -> bool {
    value.split(':').all(is_uml_safe)
}

/// A GRE key or L2TPv3 session as UML's command line must carry it: UML parses these with
/// `kstrtoint`, so values above 0x7fffffff are written as negative decimals (two's complement),
/// which puts the same 32 bits on the wire. A positive value above 0x7fffffff fails to parse
/// and crashes the guest.
pub fn uml_u32(v: u32) -> String {
    (v as i32).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_above_i32_max_render_as_negative_decimals() {
        assert_eq!(uml_u32(0), "0");
        assert_eq!(uml_u32(0x7fff_ffff), "2147483647");
        assert_eq!(uml_u32(0x8000_0000), "-2147483648");
        assert_eq!(uml_u32(0xffff_fff0), "-16");
        assert_eq!(uml_u32(u32::MAX), "-1");
    }
}
