//! umlvnf-guest (placeholder until written).
