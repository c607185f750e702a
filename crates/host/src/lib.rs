//! umlvnf-host (placeholder until written).
