//! `umlvnf bpf compile`: classic BPF socket filters from pcap expressions.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Result;

/// Compiles `expr` into the blob UML loads with `bpffile=`, written to `output` or printed as
/// `tcpdump -ddd` does.
pub fn compile(expr: &str, output: Option<PathBuf>) -> Result<ExitCode> {
    let prog = umlvnf_packet::bpf::compile(expr)?;
    match output {
        Some(path) => {
            std::fs::write(&path, umlvnf_packet::bpf::to_blob(&prog))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("{} instructions written to {}", prog.len(), path.display());
        }
        None => {
            println!("{}", prog.len());
            for i in &prog {
                println!("{} {} {} {}", i.code, i.jt, i.jf, i.k);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
