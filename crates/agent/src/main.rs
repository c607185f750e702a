//! `umlvnf-agent`: PID 1 inside a umlvnf UML guest (see [`umlvnf_agent::agent`]).

fn main() {
    if std::process::id() != 1 {
        eprintln!(
            "umlvnf-agent runs as init (PID 1) inside a UML guest: boot the guest with init=/sbin/umlvnf-agent"
        );
        std::process::exit(2);
    }
    umlvnf_agent::agent::run()
}
