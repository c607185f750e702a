//! umlvnf-agent (placeholder until written).
