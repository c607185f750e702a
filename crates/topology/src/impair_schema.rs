//! JSON Schemas of the impairment values ([`crate::tunnel::Percent`], [`crate::tunnel::Delay`],
//! [`crate::tunnel::Rate`]): the forms the one parser in [`umlvnf_packet::units`] reads, so an
//! editor flags a misspelt unit. Ranges that a pattern cannot say (a share above 100 %, a delay
//! above an hour) stay the loader's to refuse, with a located error.

use schemars::{json_schema, Schema, SchemaGenerator};

/// A plain decimal number as the parser reads it: digits with at most one `.`, no sign.
const NUMBER: &str = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)";

/// `loss`, `duplicate`, `reorder`, `corrupt`: `10%`, `0.5%`, or a fraction from 0 to 1.
pub(crate) fn percent(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A share: a percentage such as `10%` or `0.5%`, or a fraction from 0 to 1 such as `0.1`.",
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 1},
            {"type": "string", "pattern": format!(r"^\s*{NUMBER}\s*%?\s*$")}
        ]
    })
}

/// `delay`, `jitter`: a number with `s`, `ms`, `us` (`µs`) or `ns`, or `0` alone.
pub(crate) fn delay(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A duration up to one hour: a number with a unit `s`, `ms`, `us` (or `µs`) or `ns`, such as `5ms` or `1.5s`; or `0`.",
        "anyOf": [
            {"type": "integer", "const": 0},
            {"type": "string", "pattern": format!(r"^\s*({NUMBER}\s*([sS]|[mM][sS]|[uU][sS]|µ[sS]|[nN][sS])|0+\.?0*|\.0+)\s*$")}
        ]
    })
}

/// `rate`: a number with `bit`, `kbit`, `mbit`, `gbit` or `tbit` (powers of 1000).
pub(crate) fn rate(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A rate from 1 bit/s to 1 tbit/s: a number with a unit `bit`, `kbit`, `mbit`, `gbit` or `tbit` (powers of 1000, as tc), such as `100mbit`.",
        "type": "string",
        "pattern": format!(r"^\s*{NUMBER}\s*([kKmMgGtT]?[bB][iI][tT])\s*$")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use umlvnf_packet::units::{parse_duration, parse_percent, parse_rate};

    /// Texts on both sides of each form: units in any case, spaces, bare numbers, signs,
    /// exponents, misspelt and missing units, empty text.
    const SAMPLES: &[&str] = &[
        "0", "0.0", ".5", "5.", "1", "0.25", "10%", " 10 % ", "0.5%", "150%", "-1", "1e3", "", ".",
        "%", "5ms", "5 MS", "250us", "250µs", "100ns", "1.5s", "2h", "5msec", "ms", "100bit",
        "500kbit", "10Mbit", "1.5gbit", "1tbit", "2tbit", "0bit", "10mbps", "bit", "10", "1..2ms",
        "+5ms",
    ];

    /// A value's name, its schema, and whether the parser reads a text.
    type Case = (&'static str, Schema, fn(&str) -> bool);

    fn accepts(schema: &Schema, text: &str) -> bool {
        let value = serde_json::Value::String(text.to_owned());
        jsonschema::validator_for(schema.as_value())
            .expect("schema compiles")
            .is_valid(&value)
    }

    /// Whatever the parser accepts, the schema accepts; what the schema refuses, the parser
    /// refuses (the schema may let through values out of range, which the loader refuses).
    #[test]
    fn schemas_accept_every_text_the_parser_accepts() {
        let mut generator = SchemaGenerator::default();
        let cases: [Case; 3] = [
            ("percent", percent(&mut generator), |t| {
                parse_percent(t).is_ok()
            }),
            ("delay", delay(&mut generator), |t| {
                parse_duration(t).is_ok()
            }),
            ("rate", rate(&mut generator), |t| parse_rate(t).is_ok()),
        ];
        for (name, schema, parses) in &cases {
            for text in SAMPLES {
                if parses(text) {
                    assert!(accepts(schema, text), "{name} schema refuses {text:?}");
                }
            }
        }
        for (name, schema, text) in [
            ("percent", &cases[0].1, "10 percent"),
            ("delay", &cases[1].1, "5msec"),
            ("delay", &cases[1].1, "5"),
            ("rate", &cases[2].1, "10mbps"),
            ("rate", &cases[2].1, "100"),
            ("delay", &cases[1].1, ""),
        ] {
            assert!(!accepts(schema, text), "{name} schema accepts {text:?}");
        }
    }
}
