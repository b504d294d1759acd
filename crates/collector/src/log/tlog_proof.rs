//! A C2SP tlog-proof (c2sp.org/tlog-proof@v1): one leaf's index, its
//! inclusion proof and the signed checkpoint it leads to, as one text a
//! visitor keeps beside a receipt and checks offline with any tool of the
//! spec. No `extra` line: the entry is the receipt's JWS itself.

use base64::prelude::{Engine as _, BASE64_STANDARD};

use super::tree::Hash;

/// The first line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Leaf `index`'s proof against `checkpoint` (the signed note, verbatim):
/// the index in decimal, one standard base64 hash per line from the leaf's
/// sibling up (RFC 6962 §2.1.1), an empty line, then the checkpoint.
pub fn tlog_proof(index: u64, proof: &[Hash], checkpoint: &str) -> String {
    let mut text = format!("{TLOG_PROOF_HEADER}\nindex {index}\n");
    for hash in proof {
        text.push_str(&BASE64_STANDARD.encode(hash));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(checkpoint);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_written_as_the_spec_shows_it() {
        let checkpoint = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log sig\n";
        let text = tlog_proof(2, &[[0xFF; 32], [0; 32]], checkpoint);
        assert_eq!(
            text,
            format!(
                "c2sp.org/tlog-proof@v1\nindex 2\n{}\n{}\n\n{checkpoint}",
                BASE64_STANDARD.encode([0xFF; 32]),
                BASE64_STANDARD.encode([0; 32])
            )
        );
        // Leaf 0 of a tree of one: no hashes, the empty line still there.
        assert_eq!(
            tlog_proof(0, &[], checkpoint),
            format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{checkpoint}")
        );
    }
}
