// FIXME: 624 The tree kem test vectors have to be regenerated after #541.
// pub mod kat_tree_kem;
#[cfg(test)]
pub mod kat_tree_operations;
#[cfg(test)]
pub mod kat_tree_validation;
#[cfg(test)]
pub mod kat_treekem;
