//! Each site's log: its receipts are the leaves of a Merkle tree with RFC 6962
//! hashing (leaf = the receipt JWS bytes as received, leaf index = `seq − 1`),
//! its heads are signed C2SP checkpoints, and anyone can check an inclusion
//! proof (this receipt is in the log) or a consistency proof (the log still
//! holds everything an old checkpoint saw) without trusting the store.
//!
//! Pure: no database, no HTTP. The store persists per site a
//! [`CompactRange`] and the leaf hashes; proofs read subtree hashes through
//! [`HashReader`]. The shape follows Go's `golang.org/x/mod/sumdb/tlog` and
//! `sumdb/note`: formats and proofs as small functions, each naming the RFC
//! step it implements, storage behind an interface.
//!
//! Signed notes use the `signed_note` crate (Cloudflare Azul, a port of Go's
//! `sumdb/note`). The tree, proofs and checkpoint body are written here: Azul's
//! `tlog_tiles` expects Go's tiled storage layout (every interior hash at a
//! dense "stored hash index", plus tile paths) that this store does not have,
//! has no compact right edge to append a batch to, and pulls `url`;
//! `ct-merkle` keeps the whole tree in memory to make proofs.
//!
//! ```
//! use consentry_collector::log::{self, Checkpoint, CompactRange, KnownKeys};
//! # fn main() -> Result<(), log::Error> {
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let origin = "consent.acme.example/consentry/shop";
//!
//! // A group commit appends its receipts and signs the new head.
//! let leaves: Vec<_> = ["jws-1", "jws-2", "jws-3"].iter().map(|j| log::leaf_hash(j.as_bytes())).collect();
//! let mut range = CompactRange::new();
//! range.extend(leaves.iter().copied());
//! let signed = Checkpoint::new(origin, range.size(), range.root())?.sign(origin, &key)?;
//!
//! // A visitor's receipt file: the leaf, its proof, the checkpoint.
//! let proof = log::inclusion_proof(&leaves[..], 1, 3).expect("leaf 1 of 3");
//! let known = KnownKeys::from_keys([(origin, &key.verifying_key())])?;
//! let head = Checkpoint::open(signed.as_bytes(), origin, &known)?;
//! log::verify_inclusion(&log::leaf_hash(b"jws-2"), 1, head.size(), &proof, head.root())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `tree`: [`leaf_hash`], [`node_hash`], [`root`], [`EMPTY_ROOT`], and
//!   [`CompactRange`], the right edge a batch appends to (round-trips to bytes).
//! - `proof`: [`inclusion_proof`] and [`consistency_proof`] from a
//!   [`HashReader`] (a [`Recorder`] tells a store which hashes to fetch); [`verify_inclusion`] and [`verify_consistency`].
//! - `note`: C2SP signed notes with Ed25519: [`note::sign`], [`note::open`]
//!   against [`KnownKeys`], [`note::key_hash`], [`note::verifier_key`].
//! - `checkpoint`: [`Checkpoint`], the C2SP tlog-checkpoint body, signed and opened.
//! - `tlog_proof`: [`tlog_proof`], one leaf's C2SP tlog-proof text (index,
//!   inclusion proof, checkpoint).

mod checkpoint;
pub mod note;
mod proof;
mod tlog_proof;
mod tree;

pub use checkpoint::{Checkpoint, MAX_ORIGIN_LEN};
pub use note::KnownKeys;
pub use proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, HashReader,
    ProveError, Recorder,
};
pub use tlog_proof::{tlog_proof, TLOG_PROOF_HEADER};
pub use tree::{leaf_hash, node_hash, root, CompactRange, Hash, Subtree, EMPTY_ROOT};

use std::fmt;

/// Why a proof, note or checkpoint was refused: one fixed reason, to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    msg: &'static str,
}

impl Error {
    pub(crate) const fn new(msg: &'static str) -> Self {
        Self { msg }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.msg)
    }
}

impl std::error::Error for Error {}
