//! RFC 6962 hashing and the compact state a group commit appends to.
//!
//! A site's tree is never held whole: the store keeps each leaf hash and one
//! [`CompactRange`] per site, the roots of the full subtrees along the right
//! edge (one per set bit of the tree size, so at most 64 and usually ~log2 n).
//! Appending k leaves to it costs O(k log n) hashes at most and gives the new
//! root without reading a single earlier leaf.

use sha2::{Digest, Sha256};

use super::Error;

/// A SHA-256 output: a leaf hash, an interior node or a tree head.
pub type Hash = [u8; 32];

/// The hash of the empty tree, `MTH({}) = SHA-256()` (RFC 6962 §2.1,
/// RFC 9162 §2.1.1): e3b0c442…b855.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `MTH({d}) = SHA-256(0x00 || d)` (RFC 6962 §2.1, RFC 9162 §2.1.1). For a
/// receipt `d` is the JWS exactly as received.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)` (RFC 6962 §2.1, RFC 9162 §2.1.1). The
/// different first bytes keep a leaf from passing as a node (second preimage).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The tree head `MTH(D[n])` of these leaf hashes (RFC 9162 §2.1.1), in O(n).
pub fn root(leaves: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    range.extend(leaves.iter().copied());
    range.root()
}

/// A complete subtree: `len` (a power of two) leaves from `start` (a multiple
/// of `len`). Its hash is `MTH(D[start:start+len])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subtree {
    pub start: u64,
    pub len: u64,
    pub hash: Hash,
}

/// The right edge of a tree of `size` leaves: the hashes of its full subtrees,
/// largest (leftmost) first, one per set bit of `size`. This is all a writer
/// needs to append and to compute the head; it is what the store persists per
/// site besides the leaf hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    edge: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves so far (the next leaf's index).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The full subtree hashes, largest first.
    pub fn edge(&self) -> &[Hash] {
        &self.edge
    }

    /// The edge as subtrees: the binary decomposition of `size`, from leaf 0.
    pub fn blocks(&self) -> impl Iterator<Item = Subtree> + '_ {
        let mut start = 0;
        let mut bits = (0..64u32).rev().filter(|b| self.size >> b & 1 == 1);
        self.edge.iter().map(move |&hash| {
            let len = bits.next().map_or(0, |b| 1u64 << b);
            let block = Subtree { start, len, hash };
            start += len;
            block
        })
    }

    /// Appends one leaf hash: O(1) amortized, O(log n) at worst.
    pub fn push(&mut self, leaf: Hash) {
        self.push_recording(leaf, |_| {});
    }

    /// Appends leaf hashes in order (a group commit's batch).
    pub fn extend(&mut self, leaves: impl IntoIterator<Item = Hash>) {
        for leaf in leaves {
            self.push(leaf);
        }
    }

    /// Appends one leaf hash and reports each subtree of two or more leaves
    /// it completes, smallest first, so a store that keeps them can serve
    /// proofs with O(log n) reads instead of rehashing leaves.
    pub fn push_recording(&mut self, leaf: Hash, mut completed: impl FnMut(Subtree)) {
        let index = self.size;
        let mut hash = leaf;
        let mut len = 1u64;
        // Each trailing 1 bit of `index` is a full subtree of `len` leaves
        // just left of the new one: merge them (RFC 9162 §2.1.1 applied to a
        // power-of-two range is exactly `node_hash(left half, right half)`).
        let mut bits = index;
        while bits & 1 == 1 {
            let Some(left) = self.edge.pop() else {
                break; // unreachable: one edge hash per set bit of `size`
            };
            hash = node_hash(&left, &hash);
            len <<= 1;
            completed(Subtree {
                start: index + 1 - len,
                len,
                hash,
            });
            bits >>= 1;
        }
        self.edge.push(hash);
        self.size += 1;
    }

    /// The tree head `MTH(D[size])`: the edge folded from the right, since the
    /// RFC's split at the largest power of two below n is the leftmost full
    /// subtree against the rest.
    pub fn root(&self) -> Hash {
        let mut it = self.edge.iter().rev();
        let Some(last) = it.next() else {
            return EMPTY_ROOT;
        };
        it.fold(*last, |right, left| node_hash(left, &right))
    }

    /// `size` as 8 bytes big-endian, then the edge hashes: 8 + 32 × popcount(size) bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.edge.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.edge {
            out.extend_from_slice(h);
        }
        out
    }

    /// Reads what [`to_bytes`](Self::to_bytes) wrote; the length must match the size exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let Some((size, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(Error::new("compact range: shorter than its size"));
        };
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return Err(Error::new(
                "compact range: hash count does not match the size",
            ));
        }
        let edge = rest
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, edge })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 6962 §2.1 written as the recursion it is, for comparison.
    pub(crate) fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                // The largest power of two below n.
                let k = n.next_power_of_two() / 2;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u32).to_be_bytes()))
            .collect()
    }

    #[test]
    fn empty_tree_hash_is_sha256_of_nothing() {
        let direct: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, direct);
        assert_eq!(root(&[]), EMPTY_ROOT);
        assert_eq!(CompactRange::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn incremental_root_equals_the_recursive_definition_for_every_size_to_64() {
        let all = leaves(64);
        let mut range = CompactRange::new();
        for n in 1..=64 {
            range.push(all[n - 1]);
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.edge().len(), (n as u64).count_ones() as usize);
            assert_eq!(range.root(), naive_root(&all[..n]), "size {n}");
        }
    }

    #[test]
    fn a_batch_appended_to_a_restored_range_gives_the_same_root() {
        let all = leaves(300);
        // Batches of uneven sizes, each from the bytes the last one left.
        let mut bytes = CompactRange::new().to_bytes();
        let mut at = 0;
        for k in [1, 2, 3, 7, 16, 31, 1, 64, 100, 75] {
            let mut range = CompactRange::from_bytes(&bytes).expect("well-formed bytes");
            range.extend(all[at..at + k].iter().copied());
            at += k;
            assert_eq!(range.root(), naive_root(&all[..at]), "after {at}");
            bytes = range.to_bytes();
            assert_eq!(bytes.len(), 8 + 32 * (at as u64).count_ones() as usize);
        }
        assert_eq!(at, 300);
    }

    #[test]
    fn completed_subtrees_are_the_aligned_powers_of_two() {
        let all = leaves(13);
        let mut range = CompactRange::new();
        let mut seen = Vec::new();
        for leaf in &all {
            range.push_recording(*leaf, |s| seen.push(s));
        }
        for s in &seen {
            assert!(s.len.is_power_of_two() && s.len >= 2 && s.start % s.len == 0);
            let slice = &all[s.start as usize..(s.start + s.len) as usize];
            assert_eq!(s.hash, naive_root(slice));
        }
        // 13 leaves: 6 pairs, 3 quads, 1 octet.
        assert_eq!(seen.len(), 10);
    }

    #[test]
    fn the_edge_blocks_are_the_binary_decomposition_of_the_size() {
        let all = leaves(13);
        let mut range = CompactRange::new();
        range.extend(all.iter().copied());
        let blocks: Vec<(u64, u64)> = range.blocks().map(|b| (b.start, b.len)).collect();
        assert_eq!(blocks, [(0, 8), (8, 4), (12, 1)]);
        for b in range.blocks() {
            assert_eq!(
                b.hash,
                naive_root(&all[b.start as usize..(b.start + b.len) as usize])
            );
        }
    }

    #[test]
    fn compact_range_bytes_of_the_wrong_length_are_refused() {
        let mut range = CompactRange::new();
        range.extend(leaves(5));
        let bytes = range.to_bytes();
        assert_eq!(
            CompactRange::from_bytes(&bytes).expect("well-formed bytes"),
            range
        );
        assert!(CompactRange::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(CompactRange::from_bytes(&[bytes.as_slice(), &[0; 32]].concat()).is_err());
        assert!(CompactRange::from_bytes(&bytes[..7]).is_err());
        assert!(CompactRange::from_bytes(&u64::MAX.to_be_bytes()).is_err());
    }
}
