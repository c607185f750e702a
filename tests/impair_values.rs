//! A topology's `impair` values and the flags of `umlvnf link set` are read by one parser: over
//! many generated texts, near-valid and random, both accept exactly the same ones, hand the
//! datapath the same values (the flags after their trip through the control socket's JSON),
//! and refuse the others with the same message.

use std::path::Path;

use clap::Parser;
use umlvnf::control::{ImpairArgs, Request};
use umlvnf_packet::impair::Impairment;
use umlvnf_topology::Impairments;

/// The impairment flags as `umlvnf link set` declares them.
#[derive(Parser)]
struct LinkSet {
    #[command(flatten)]
    impair: ImpairArgs,
}

const FIELDS: [&str; 6] = ["loss", "delay", "jitter", "rate", "duplicate", "reorder"];

/// What a path made of a text: the datapath's impairment, or the message refusing it.
type Outcome = Result<Impairment, String>;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "5",
    "10",
    "50",
    "99.999",
    "100",
    "100.0001",
    "101",
    "0.1",
    "0.5",
    ".5",
    "5.",
    ".",
    "1.2.3",
    "",
    "-1",
    "+1",
    "1e3",
    "0x10",
    "NaN",
    "inf",
    "3600",
    "3600.0000001",
    "3601",
    "60",
    "61",
    "1000000000000",
    "1000000000001",
    "999999999999.5",
    "0.0000001",
    "1.5",
    "00",
    "0.49",
    "0.5",
    "18446744073709551616",
    "1_000",
];

const UNITS: &[&str] = &[
    "", "%", "%%", " %", "ns", "us", "µs", "μs", "ms", "s", "sec", "m", "h", "bit", "kbit", "mbit",
    "gbit", "tbit", "pbit", "bps", "Kbit", "MBIT", "Gbit", "TBit", "mS", "US", "NS", "S", "µS",
    "kb", "b", "x", " ms", "ms ", "bit/s", "kbit%",
];

/// The units that some field takes, drawn more often.
const VALID_UNITS: &[&str] = &[
    "%", "", "ns", "us", "µs", "ms", "s", "bit", "kbit", "mbit", "gbit", "tbit",
];

const ALPHABET: &[&str] = &[
    "0", "1", "5", "9", ".", "%", " ", "\t", "m", "s", "u", "µ", "n", "b", "i", "t", "k", "g", "M",
    "G", "T", "-", "+", "e", "x", "\"", "\\", "'", ",", "#", ":",
];

/// A text for an impairment value: mostly a number with a unit, sometimes noise.
fn text(rng: &mut Rng) -> String {
    if rng.below(5) == 0 {
        let len = rng.below(8);
        return (0..len).map(|_| rng.pick(ALPHABET)).collect();
    }
    let number = if rng.below(3) == 0 {
        let whole = rng.next() % 10u64.pow(rng.below(14) as u32);
        let frac = rng.next() % 1000;
        match rng.below(3) {
            0 => whole.to_string(),
            1 => format!("{whole}.{frac}"),
            _ => format!("0.{frac:03}"),
        }
    } else {
        rng.pick(NUMBERS).to_string()
    };
    let unit = if rng.below(2) == 0 {
        rng.pick(VALID_UNITS)
    } else {
        rng.pick(UNITS)
    };
    let pad = [" ", "", "", "", "\t"];
    format!("{}{number}{unit}{}", rng.pick(&pad), rng.pick(&pad))
}

/// `text` as a YAML scalar: double-quoted, or plain when YAML would read it unchanged.
fn yaml_scalar(text: &str, plain: bool) -> String {
    if plain {
        return text.to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True when `text` reads the same as a plain YAML scalar in a block mapping.
fn plain_is_safe(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && text == text.trim()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '%' | ' ' | 'µ' | 'μ'))
}

/// The YAML path: the value in a topology file's `impair`, loaded and validated.
fn from_yaml(field: &str, text: &str, plain: bool) -> Outcome {
    let delay = if field == "jitter" {
        "      delay: 3600s\n"
    } else {
        ""
    };
    let yaml = format!(
        "name: p\nnodes: {{r1: {{}}, r2: {{}}}}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    \
         transport: wire\n    impair:\n{delay}      {field}: {}\n",
        yaml_scalar(text, plain)
    );
    match umlvnf_topology::load_str(&yaml, Path::new("/tmp/impair.yaml")) {
        Ok(t) => match &t.links[0].impair {
            Some(Impairments::Both(i)) => Ok(Impairment::from(i)),
            other => panic!("{yaml}: unexpected {other:?}"),
        },
        Err(e) => {
            let [d] = &e.diagnostics[..] else {
                panic!("{yaml}: more than one problem:\n{e}");
            };
            assert_eq!(d.field, format!("links[0].impair.{field}"), "{yaml}");
            Err(d.message.clone())
        }
    }
}

/// The CLI path: the `link set` flag, parsed, sent as the control request's JSON, read back
/// as the runtime reads it, and checked as the runtime checks it.
fn from_cli(field: &str, text: &str) -> Outcome {
    let mut argv = vec!["link-set".to_string()];
    if field == "jitter" {
        argv.push("--delay=3600s".into());
    }
    argv.push(format!("--{field}={text}"));
    let args = LinkSet::try_parse_from(argv).map_err(|e| e.to_string())?;
    let request = Request::LinkSet {
        link: "link0".into(),
        from: None,
        impair: Some(args.impair.into()),
        up: None,
    };
    let line = serde_json::to_string(&request).expect("a request encodes");
    let Ok(Request::LinkSet {
        impair: Some(imp), ..
    }) = serde_json::from_str(&line)
    else {
        panic!("{line} does not read back");
    };
    imp.check_jitter().map_err(|e| e.to_string())?;
    Ok(Impairment::from(&imp))
}

/// Reads `text` as `field` both ways, checks that they agree, and returns what they made of it.
fn both_paths(field: &str, text: &str) -> Outcome {
    let yaml = from_yaml(field, text, false);
    let cli = from_cli(field, text);
    match (&yaml, &cli) {
        (Ok(y), Ok(c)) => assert_eq!(y, c, "{field}: {text:?}"),
        (Err(y), Err(c)) => assert!(c.contains(y.as_str()), "{field}: {text:?}: {c} / {y}"),
        _ => panic!("{field}: {text:?}: the topology gives {yaml:?}, link set {cli:?}"),
    }
    if plain_is_safe(text) {
        assert_eq!(from_yaml(field, text, true), yaml, "{field}: {text} plain");
    }
    yaml
}

#[test]
fn yaml_and_link_set_accept_and_refuse_the_same_texts_with_the_same_values() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..1500 {
        let text = text(&mut rng);
        for field in FIELDS {
            match both_paths(field, &text) {
                Ok(_) => accepted += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert!(
        accepted > 800 && refused > 800,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn the_limits_are_the_same_on_both_paths() {
    let cases = [
        ("delay", "3600s", true),
        ("delay", "3600.000000001s", false),
        ("delay", "1ns", true),
        ("delay", "0", true),
        ("jitter", "3600000ms", true),
        ("delay", "5SEC", false),
        ("rate", "1tbit", true),
        ("rate", "1000000000001bit", false),
        ("rate", "10MBit", true),
        ("rate", "0.4bit", false),
        ("loss", "100%", true),
        ("loss", "100.1%", false),
        ("reorder", "1", true),
        ("duplicate", "1.01", false),
    ];
    for (field, text, valid) in cases {
        let outcome = both_paths(field, text);
        assert_eq!(outcome.is_ok(), valid, "{field}: {text}: {outcome:?}");
    }
}
