//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4), made from
//! any source of complete-subtree hashes and checked without one.
//!
//! Making a proof asks a [`HashReader`] for at most ~2 log2 n complete
//! subtrees; checking one is the RFC's bit-walking loop, O(log n) hashes
//! whatever the input, and a proof that is short, long, reordered or for the
//! wrong size is an [`Error`], never a panic.

use super::tree::{node_hash, Hash, EMPTY_ROOT};
use super::Error;

/// Where proofs get their hashes: the store of leaf hashes (and, later, of
/// the subtrees [`CompactRange::push_recording`](super::CompactRange::push_recording)
/// reports).
pub trait HashReader {
    /// Why a read failed (a database error, a missing row).
    type Error;

    /// `MTH(D[start:start+len])` of a complete subtree: `len` is a power of
    /// two and `start` a multiple of it, both inside the tree being proved.
    fn subtree(&self, start: u64, len: u64) -> Result<Hash, Self::Error>;
}

/// A slice of leaf hashes (leaf index = position) answers by rehashing, O(len):
/// enough for tests and small trees.
impl HashReader for [Hash] {
    type Error = Error;

    fn subtree(&self, start: u64, len: u64) -> Result<Hash, Error> {
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(start.saturating_add(len)).ok())
            .and_then(|(a, b)| self.get(a..b))
            .ok_or(Error::new("proof: subtree outside the stored leaves"))?;
        Ok(super::tree::root(range))
    }
}

/// Complete subtrees by `(start, len)`: what a store fetched for one proof
/// (see [`Recorder`]), or what a group commit has in memory for its batch.
impl HashReader for std::collections::HashMap<(u64, u64), Hash> {
    type Error = Error;

    fn subtree(&self, start: u64, len: u64) -> Result<Hash, Error> {
        self.get(&(start, len))
            .copied()
            .ok_or(Error::new("proof: a subtree hash is missing"))
    }
}

/// Records which subtrees a proof reads, answering each with a dummy hash.
/// Which subtrees a proof needs depends only on the index and sizes, never
/// on the hashes, so a store runs the proof once with a `Recorder`, fetches
/// all the hashes in one query, and runs it again over the map it fetched.
#[derive(Debug, Default)]
pub struct Recorder {
    needed: std::cell::RefCell<Vec<(u64, u64)>>,
}

impl Recorder {
    /// `(start, len)` of each subtree read, in order, without repeats.
    pub fn into_needed(self) -> Vec<(u64, u64)> {
        let mut needed = self.needed.into_inner();
        needed.dedup();
        needed
    }
}

impl HashReader for Recorder {
    type Error = std::convert::Infallible;

    fn subtree(&self, start: u64, len: u64) -> Result<Hash, Self::Error> {
        self.needed.borrow_mut().push((start, len));
        Ok([0; 32])
    }
}

/// Why a proof could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum ProveError<E> {
    /// The index or sizes are outside the tree (or in the wrong order).
    OutOfRange,
    /// The reader failed.
    Read(E),
}

/// The largest power of two strictly below `n` (n ≥ 2), the RFC's `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[lo:hi])` from complete subtrees, left to right (RFC 9162 §2.1.1:
/// each split is at the largest power of two, so the left part is always
/// complete). Every range a proof asks for starts aligned, which this needs.
fn range_hash<R: HashReader + ?Sized>(r: &R, lo: u64, hi: u64) -> Result<Hash, R::Error> {
    if (hi - lo).is_power_of_two() {
        return r.subtree(lo, hi - lo);
    }
    let k = split(hi - lo);
    let left = r.subtree(lo, k)?;
    let right = range_hash(r, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The audit path of leaf `index` in the tree of `size` leaves,
/// `PATH(m, D[n])` of RFC 9162 §2.1.3.1: the sibling hashes from the leaf up.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    r: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if index >= size {
        return Err(ProveError::OutOfRange);
    }
    let mut proof = Vec::new();
    path(r, index, 0, size, &mut proof).map_err(ProveError::Read)?;
    Ok(proof)
}

// PATH(m, D[lo:hi]): for n > 1, PATH(m, D[0:k]) : MTH(D[k:n]) when m < k,
// else PATH(m - k, D[k:n]) : MTH(D[0:k]). The recursion comes first, so the
// hashes nearest the leaf come first. Depth ≤ 64.
fn path<R: HashReader + ?Sized>(
    r: &R,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if hi - lo <= 1 {
        return Ok(());
    }
    let k = split(hi - lo);
    if m < lo + k {
        path(r, m, lo, lo + k, out)?;
        out.push(range_hash(r, lo + k, hi)?);
    } else {
        path(r, m, lo + k, hi, out)?;
        out.push(range_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size`, `PROOF(m, D[n])` of RFC 9162 §2.1.4.1. Empty when the sizes
/// are equal or the old tree is empty (every tree extends the empty one).
pub fn consistency_proof<R: HashReader + ?Sized>(
    r: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if old_size > new_size {
        return Err(ProveError::OutOfRange);
    }
    let mut proof = Vec::new();
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    subproof(r, old_size, 0, new_size, true, &mut proof).map_err(ProveError::Read)?;
    Ok(proof)
}

// SUBPROOF(m, D[lo:hi], b): when m = n, nothing if b (the verifier has the
// old head), else MTH(D); when m ≤ k, SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
// else SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]). Here `m` is absolute.
fn subproof<R: HashReader + ?Sized>(
    r: &R,
    m: u64,
    lo: u64,
    hi: u64,
    whole_old_tree: bool,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if m == hi {
        if !whole_old_tree {
            out.push(range_hash(r, lo, hi)?);
        }
        return Ok(());
    }
    let k = split(hi - lo);
    if m <= lo + k {
        subproof(r, m, lo, lo + k, whole_old_tree, out)?;
        out.push(range_hash(r, lo + k, hi)?);
    } else {
        subproof(r, m, lo + k, hi, false, out)?;
        out.push(range_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// head is `root`, following RFC 9162 §2.1.3.2 step by step.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    // 1. leaf_index must be below tree_size.
    if index >= size {
        return Err(Error::new("inclusion proof: leaf index outside the tree"));
    }
    // 2. fn = leaf_index, sn = tree_size - 1, r = hash.
    let (mut fnode, mut snode, mut r) = (index, size - 1, *leaf);
    // 3. For each p in the path:
    for p in proof {
        // a. a hash past the root is one too many.
        if snode == 0 {
            return Err(Error::new("inclusion proof: too many hashes"));
        }
        // b. a right child (or the last node of its level) takes p on its left,
        //    then climbs past the levels where it has no sibling.
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        // c. one level up.
        fnode >>= 1;
        snode >>= 1;
    }
    // 4. all the way up, and to the same head.
    if snode != 0 {
        return Err(Error::new("inclusion proof: too few hashes"));
    }
    if &r != root {
        return Err(Error::new("inclusion proof: the root does not match"));
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with head `old_root` is a prefix
/// of the tree of `new_size` with head `new_root`, following RFC 9162
/// §2.1.4.2 step by step. This is what catches a deleted tail, a rollback or
/// a fork against a checkpoint someone kept.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), Error> {
    if old_size > new_size {
        return Err(Error::new("consistency proof: the old tree is larger"));
    }
    // The empty tree is a prefix of every tree; nothing to prove.
    if old_size == 0 {
        if !proof.is_empty() || old_root != &EMPTY_ROOT {
            return Err(Error::new("consistency proof: not the empty tree"));
        }
        return Ok(());
    }
    // Equal sizes: the heads must be equal and the proof empty.
    if old_size == new_size {
        if !proof.is_empty() || old_root != new_root {
            return Err(Error::new("consistency proof: same size, different trees"));
        }
        return Ok(());
    }
    // 1. an empty path proves nothing between different sizes.
    let Some((first, rest)) = proof.split_first() else {
        return Err(Error::new("consistency proof: empty"));
    };
    // 2. if first is a power of two, the path starts at the old head itself.
    let (seed, path) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // 3. fn = first - 1, sn = second - 1.
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    // 4. climb past the levels where the old tree's last node is a right child.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5. fr = sr = the seed.
    let (mut fr, mut sr) = (*seed, *seed);
    // 6. for each remaining c:
    for c in path {
        // a. past the root is one too many.
        if snode == 0 {
            return Err(Error::new("consistency proof: too many hashes"));
        }
        // b. a left sibling joins both heads; a right one only the new head.
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // c. one level up.
        fnode >>= 1;
        snode >>= 1;
    }
    // 7. both heads rebuilt, all the way up.
    if snode != 0 {
        return Err(Error::new("consistency proof: too few hashes"));
    }
    if &fr != old_root || &sr != new_root {
        return Err(Error::new("consistency proof: the roots do not match"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::naive_root;
    use super::super::tree::{leaf_hash, root};
    use super::*;

    fn unhex(s: &str) -> Hash {
        let mut h = [0; 32];
        for (i, b) in h.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        h
    }

    fn bytes(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    }

    /// The Certificate Transparency reference tests' 8 leaves
    /// (certificate-transparency `merkle_tree_test.cc`, also in Go's tlog
    /// `ct_test.go` and Trillian's `merkle` tests).
    fn ct_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|d| leaf_hash(&bytes(d)))
        .collect()
    }

    /// Their heads for sizes 0..=8.
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// Their inclusion proofs: (leaf index, tree size, path).
    const CT_INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// Their consistency proofs: (old size, new size, proof).
    const CT_CONSISTENCY: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn hashes(hex: &[&str]) -> Vec<Hash> {
        hex.iter().map(|h| unhex(h)).collect()
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("receipt {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn heads_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        for n in 0..=8 {
            assert_eq!(root(&leaves[..n]), unhex(CT_ROOTS[n]), "size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        for (index, size, want) in CT_INCLUSION {
            let proof = inclusion_proof(&leaves[..], index, size).expect("a leaf in the tree");
            assert_eq!(proof, hashes(want), "leaf {index} of {size}");
            let head = unhex(CT_ROOTS[size as usize]);
            verify_inclusion(&leaves[index as usize], index, size, &proof, &head)
                .expect("the proof verifies");
        }
    }

    #[test]
    fn consistency_proofs_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        for (old, new, want) in CT_CONSISTENCY {
            let proof = consistency_proof(&leaves[..], old, new).expect("sizes in order");
            assert_eq!(proof, hashes(want), "{old} → {new}");
            let (a, b) = (unhex(CT_ROOTS[old as usize]), unhex(CT_ROOTS[new as usize]));
            verify_consistency(old, new, &proof, &a, &b).expect("the proof verifies");
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_in_every_tree_to_33_and_no_other_leaf_does() {
        let all = leaves(33);
        for size in 1..=33u64 {
            let head = naive_root(&all[..size as usize]);
            for index in 0..size {
                let proof = inclusion_proof(&all[..], index, size).expect("a leaf in the tree");
                assert!(proof.len() <= 6);
                verify_inclusion(&all[index as usize], index, size, &proof, &head)
                    .expect("the proof verifies");
                let other = all[((index + 1) % 33) as usize];
                assert!(verify_inclusion(&other, index, size, &proof, &head).is_err());
                if size > 1 {
                    // The same path does not prove a neighbouring position.
                    let moved = (index + 1) % size;
                    assert!(
                        verify_inclusion(&all[index as usize], moved, size, &proof, &head).is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_for_all_sizes_to_33() {
        let all = leaves(33);
        let heads: Vec<Hash> = (0..=33).map(|n| naive_root(&all[..n])).collect();
        for new in 0..=33u64 {
            for old in 0..=new {
                let proof = consistency_proof(&all[..], old, new).expect("sizes in order");
                let (a, b) = (&heads[old as usize], &heads[new as usize]);
                verify_consistency(old, new, &proof, a, b)
                    .unwrap_or_else(|e| panic!("{old} → {new}: {e}"));
                if 0 < old && old < new {
                    // A forked old tree (its last leaf replaced) is caught.
                    let mut forked = all[..old as usize].to_vec();
                    forked[old as usize - 1] = leaf_hash(b"rewritten");
                    let fork_head = naive_root(&forked);
                    assert!(verify_consistency(old, new, &proof, &fork_head, b).is_err());
                    // So is a new tree that lost or changed its tail.
                    assert!(
                        verify_consistency(old, new, &proof, a, &heads[new as usize - 1]).is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn proofs_from_a_random_looking_big_tree_verify() {
        let all = leaves(1000);
        let head = root(&all);
        // A spread of positions and prefixes, stepping by primes.
        for index in (0..1000u64).step_by(37) {
            let proof = inclusion_proof(&all[..], index, 1000).expect("a leaf in the tree");
            assert!(proof.len() <= 10);
            verify_inclusion(&all[index as usize], index, 1000, &proof, &head)
                .expect("the proof verifies");
        }
        for old in (1..1000u64).step_by(53) {
            let proof = consistency_proof(&all[..], old, 1000).expect("sizes in order");
            let old_head = root(&all[..old as usize]);
            verify_consistency(old, 1000, &proof, &old_head, &head).expect("the proof verifies");
        }
    }

    #[test]
    fn hostile_inclusion_proofs_are_rejected() {
        let all = leaves(21);
        let head = root(&all);
        let (index, size) = (6, 21);
        let leaf = all[index as usize];
        let proof = inclusion_proof(&all[..], index, size).expect("a leaf in the tree");
        verify_inclusion(&leaf, index, size, &proof, &head).expect("the proof verifies");

        let truncated = &proof[..proof.len() - 1];
        assert!(verify_inclusion(&leaf, index, size, truncated, &head).is_err());
        let extra = [proof.as_slice(), &[[7; 32]]].concat();
        assert!(verify_inclusion(&leaf, index, size, &extra, &head).is_err());
        let mut swapped = proof.clone();
        swapped.swap(0, 1);
        assert!(verify_inclusion(&leaf, index, size, &swapped, &head).is_err());
        // A size of another shape fails; one of the same shape (17 to 32
        // here) proves the same path, which is why the size that counts is
        // the one the checkpoint signs.
        for wrong_size in [0, 1, 7, 16, 33, 64, u64::MAX] {
            assert!(verify_inclusion(&leaf, index, wrong_size, &proof, &head).is_err());
        }
        assert!(verify_inclusion(&leaf, size, size, &proof, &head).is_err());
        assert!(verify_inclusion(&leaf, u64::MAX, u64::MAX, &proof, &head).is_err());
        assert!(verify_inclusion(&leaf, 0, 0, &[], &EMPTY_ROOT).is_err());
        assert!(verify_inclusion(&leaf, index, size, &[], &head).is_err());
        // A million hashes cost no more than 64 steps before the refusal.
        let huge = vec![[0; 32]; 1_000_000];
        assert!(verify_inclusion(&leaf, index, size, &huge, &head).is_err());
        // The leaf hash of a one-leaf tree is its head; nothing else is.
        verify_inclusion(&leaf, 0, 1, &[], &leaf).expect("the proof verifies");
        assert!(verify_inclusion(&leaf, 0, 1, &[leaf], &node_hash(&leaf, &leaf)).is_err());
    }

    #[test]
    fn hostile_consistency_proofs_are_rejected() {
        let all = leaves(21);
        let (old, new) = (6, 21);
        let (a, b) = (root(&all[..old as usize]), root(&all));
        let proof = consistency_proof(&all[..], old, new).expect("sizes in order");
        verify_consistency(old, new, &proof, &a, &b).expect("the proof verifies");

        assert!(verify_consistency(old, new, &proof[..proof.len() - 1], &a, &b).is_err());
        let extra = [proof.as_slice(), &[[7; 32]]].concat();
        assert!(verify_consistency(old, new, &extra, &a, &b).is_err());
        let mut swapped = proof.clone();
        swapped.swap(0, 1);
        assert!(verify_consistency(old, new, &swapped, &a, &b).is_err());
        assert!(verify_consistency(old, new, &[], &a, &b).is_err());
        assert!(verify_consistency(new, old, &proof, &b, &a).is_err());
        assert!(verify_consistency(old, new, &proof, &b, &a).is_err());
        for wrong in [5, 7, 8] {
            assert!(verify_consistency(wrong, new, &proof, &a, &b).is_err());
        }
        for wrong in [7, 16, 33, u64::MAX] {
            assert!(verify_consistency(old, wrong, &proof, &a, &b).is_err());
        }
        assert!(verify_consistency(0, new, &proof, &EMPTY_ROOT, &b).is_err());
        assert!(verify_consistency(0, new, &[], &a, &b).is_err());
        verify_consistency(0, new, &[], &EMPTY_ROOT, &b).expect("the proof verifies");
        assert!(verify_consistency(new, new, &[], &a, &b).is_err());
        assert!(verify_consistency(new, new, &proof, &b, &b).is_err());
        verify_consistency(new, new, &[], &b, &b).expect("the proof verifies");
        let huge = vec![[0; 32]; 1_000_000];
        assert!(verify_consistency(old, new, &huge, &a, &b).is_err());
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &proof, &a, &b).is_err());
    }

    #[test]
    fn proofs_outside_the_tree_are_not_made() {
        let all = leaves(4);
        assert_eq!(inclusion_proof(&all[..], 4, 4), Err(ProveError::OutOfRange));
        assert_eq!(inclusion_proof(&all[..], 0, 0), Err(ProveError::OutOfRange));
        assert_eq!(
            consistency_proof(&all[..], 5, 4),
            Err(ProveError::OutOfRange)
        );
        // The reader is asked only for what it holds; a larger size fails to read.
        assert!(matches!(
            inclusion_proof(&all[..], 0, 9),
            Err(ProveError::Read(_))
        ));
        assert!(matches!(
            consistency_proof(&all[..], 2, u64::MAX),
            Err(ProveError::Read(_))
        ));
    }
}
