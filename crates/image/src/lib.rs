//! umlvnf-image (placeholder until written).
