//! The topology loader ([`umlvnf_topology::load_str`]) and its text round trip.

use std::path::PathBuf;

use super::kind;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "topology",
    about: "umlvnf_topology::load_str on text beside the example topologies (so the files they \
            name exist), and load_str(to_text(t)) = t for every topology that loads",
    run,
    max_len: 8192,
    dictionary: &[
        b"name: ",
        b"nodes:\n",
        b"links:\n",
        b"  - endpoints: [r1:eth0, h1:eth0]\n",
        b"kind: host\n",
        b"transport: wire\n",
        b"transport: gre\n",
        b"transport: l2tpv3\n",
        b"interfaces:\n",
        b"ipv4: [10.0.0.1/24]\n",
        b"defaults:\n",
        b"impair: {delay: 10ms, loss: 5%}\n",
        b"filter: ",
        b"&a ",
        b"*a",
        b"<<: *a\n",
        b"{}",
        b"[]",
        b"!!str ",
        b"---\n",
        b"0x80000000",
        b"-1",
        b"99999999999999999999",
        b"\"\\u0000\"",
        b"host:eth0",
    ],
};

/// Where the input pretends to be: next to the example topologies.
fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../topologies")
        .join("fuzz-input.yaml")
}

fn run(data: &[u8], out: &mut Outcomes) {
    let text = String::from_utf8_lossy(data);
    let file = file();
    match umlvnf_topology::load_str(&text, &file) {
        Ok(topo) => {
            let again = umlvnf_topology::to_text(&topo);
            match umlvnf_topology::load_str(&again, &file) {
                Ok(back) => assert!(back == topo, "to_text does not read back to the same model"),
                Err(e) => panic!("to_text of a loaded topology does not load: {e}"),
            }
            let shape = format!("ok {} {}", topo.nodes.len().min(4), topo.links.len().min(4));
            out.add(kind(&shape, ""));
        }
        Err(e) => {
            for d in &e.diagnostics {
                out.add(kind("topology", &d.message));
            }
        }
    }
}
