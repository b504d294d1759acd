#!/usr/bin/env python3
"""Checks a Consentry collector's log the way an outsider would: from the
specifications alone, with nothing shared with the collector's Rust code.

    python3 check_log.py INPUT.json

INPUT.json (what a visitor, an auditor or a witness holds):

    {
      "origin": "consent.acme.example/consentry/shop",
      "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "<base64url>"}]},
      "checkpoint": "<the latest signed checkpoint, note text>",
      "receipts": [
        {"jws": "<receipt JWS as posted>", "leaf_index": 0,
         "inclusion_proof": ["<std base64>", ...],
         "checkpoint": "<optional: the note this proof is against>"}
      ],
      "consistency": [
        {"old_checkpoint": "<an earlier signed note>",
         "proof": ["<std base64>", ...]}
      ],
      "tlog_proofs": [
        {"jws": "<receipt JWS as posted>", "proof": "<a c2sp.org/tlog-proof text>"}
      ]
    }

"tlog_proofs" may be left out.

A receipt without its own "checkpoint" is proved against the top-level one;
every consistency proof goes from its old checkpoint to the top-level one.

What is checked, and where it is specified:

- Every checkpoint is a C2SP signed note (c2sp.org/signed-note): UTF-8, no
  control characters but newline, text and signatures split at the last blank
  line. Signature lines from keys other than the JWKS keys under the key name
  `origin` are ignored; one whose name and key ID match a JWKS key must verify
  (Ed25519, RFC 8032, over the note text), and at least one must.
- Its text is a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the origin
  line equals `origin`, the tree size is decimal without leading zeros, the
  root hash is 32 bytes of standard base64.
- Every inclusion proof leads from SHA-256(0x00 || jws) to the root of its
  checkpoint (RFC 9162 §2.1.3.2; hashes of RFC 9162 §2.1.1).
- Every consistency proof shows the old checkpoint's tree is a prefix of the
  latest one's (RFC 9162 §2.1.4.2).
- Every tlog-proof is a C2SP tlog-proof (c2sp.org/tlog-proof): the header
  line, an optional `extra` line, `index N` in decimal without leading zeros,
  one standard base64 hash a line, an empty line, then a checkpoint signed
  as above, to whose root the proof leads from SHA-256(0x00 || jws).

Exit status: 0 when everything verifies (a one-line summary on stdout), 1
when something does not (stderr names it), 2 when the input cannot be read
or the checker itself broke, so a caller never mistakes a crash for a
verdict.
"""

import base64
import binascii
import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print(
        "check_log: the Python module `cryptography` is missing "
        "(`cargo xtask test` installs it)",
        file=sys.stderr,
    )
    sys.exit(2)

HASH_LEN = 32
ED25519_KEY_LEN = 32
ED25519_SIG_LEN = 64
# c2sp.org/signed-note: signature type byte of plain Ed25519 notes.
ED25519_TYPE = b"\x01"
# c2sp.org/signed-note asks verifiers to take at least 16 signatures and
# allows a limit; far more than that is a malformed (or hostile) note.
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "


class Failed(Exception):
    """The log does not verify; the message says which part."""


class BadInput(Exception):
    """The input file is not the documented shape."""


def sha256(data):
    return hashlib.sha256(data).digest()


# RFC 9162 §2.1.1: leaves and interior nodes hash with distinct prefixes,
# so a leaf can never pass for a node.
def leaf_hash(entry):
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def std_b64(text, what):
    """Strict standard base64 (RFC 4648 §4): the alphabet, the padding, and
    the one canonical spelling, so two texts never name the same bytes."""
    if not isinstance(text, str):
        raise Failed(f"{what}: not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Failed(f"{what}: not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise Failed(f"{what}: not canonical standard base64")
    return raw


def url_b64(text, what):
    """Base64url without padding (RFC 7515 §2), as JWK members are written."""
    if not isinstance(text, str) or "=" in text:
        raise BadInput(f"{what}: not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadInput(f"{what}: not base64url") from None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != text:
        raise BadInput(f"{what}: not canonical base64url")
    return raw


def proof_hashes(items, what):
    if not isinstance(items, list):
        raise BadInput(f"{what}: not a list")
    hashes = []
    for i, item in enumerate(items):
        raw = std_b64(item, f"{what}[{i}]")
        if len(raw) != HASH_LEN:
            raise Failed(f"{what}[{i}]: {len(raw)} bytes, not a SHA-256 hash")
        hashes.append(raw)
    return hashes


# c2sp.org/signed-note, "Ed25519 signatures":
# key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4].
def key_id(name, public_key):
    return sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key)[:4]


def jwks_keys(jwks):
    """The raw Ed25519 public keys of a JWKS (RFC 8037 §2: OKP, crv Ed25519,
    x = the 32-byte key). Keys of other types cannot sign these notes."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise BadInput('jwks: no "keys" list')
    keys = []
    for i, jwk in enumerate(jwks["keys"]):
        if not isinstance(jwk, dict):
            raise BadInput(f"jwks.keys[{i}]: not an object")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        raw = url_b64(jwk.get("x"), f"jwks.keys[{i}].x")
        if len(raw) != ED25519_KEY_LEN:
            raise BadInput(f"jwks.keys[{i}].x: {len(raw)} bytes, not an Ed25519 key")
        keys.append(raw)
    if not keys:
        raise Failed("jwks: no Ed25519 key to check a checkpoint with")
    return keys


def open_note(note, name, public_keys, what):
    """c2sp.org/signed-note: returns the note text once a signature by one of
    `public_keys` under key name `name` verifies over it."""
    if not isinstance(note, str):
        raise BadInput(f"{what}: not a string")
    # The note came as JSON text; its bytes are its UTF-8 encoding.
    data = note.encode("utf-8", errors="strict")
    if any(c < 0x20 and c != 0x0A for c in data):
        raise Failed(f"{what}: a control character other than newline")
    # "separated from the signatures by the last empty line in the note"
    split = note.rfind("\n\n")
    if split < 0:
        raise Failed(f"{what}: no blank line before the signatures")
    text = note[: split + 1]
    block = note[split + 2 :]
    if not block:
        raise Failed(f"{what}: no signature lines")
    if not block.endswith("\n"):
        raise Failed(f"{what}: the last signature line does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Failed(f"{what}: more than {MAX_SIGNATURES} signatures")

    known = {key_id(name, k): k for k in public_keys}
    verified = 0
    for n, line in enumerate(lines, 1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise Failed(f"{what}: signature line {n} does not start with an em dash and a space")
        rest = line[len(SIGNATURE_PREFIX) :]
        sig_name, space, sig_b64 = rest.partition(" ")
        if not space or not sig_name or " " in sig_b64:
            raise Failed(f"{what}: signature line {n} is not `— <name> <base64>`")
        if "+" in sig_name or any(ch.isspace() for ch in sig_name):
            raise Failed(f"{what}: signature line {n}: a key name with a space or '+'")
        raw = std_b64(sig_b64, f"{what}: signature line {n}")
        if len(raw) < 4:
            raise Failed(f"{what}: signature line {n} is shorter than its key ID")
        # A line is ours only if both the name and the key ID match;
        # anything else (a witness, a rotated key) is ignored, as the spec
        # requires.
        public_key = known.get(raw[:4]) if sig_name == name else None
        if public_key is None:
            continue
        signature = raw[4:]
        try:
            if len(signature) != ED25519_SIG_LEN:
                raise InvalidSignature
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                signature, text.encode("utf-8")
            )
        except InvalidSignature:
            raise Failed(
                f"{what}: the signature by JWKS key {raw[:4].hex()} under {name!r} "
                "does not verify"
            ) from None
        verified += 1
    if verified == 0:
        raise Failed(f"{what}: no signature by a JWKS key under the key name {name!r}")
    return text


def parse_checkpoint(text, origin, what):
    """c2sp.org/tlog-checkpoint "Note text": origin, size, root, then
    optional non-empty extension lines."""
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        raise Failed(f"{what}: not three or more non-empty lines")
    if lines[0] != origin:
        raise Failed(f"{what}: origin line {lines[0]!r}, expected {origin!r}")
    size_text = lines[1]
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text.startswith("0") and size_text != "0")
    ):
        raise Failed(f"{what}: tree size {size_text!r} is not a decimal without leading zeros")
    root = std_b64(lines[2], f"{what}: root hash")
    if len(root) != HASH_LEN:
        raise Failed(f"{what}: root hash of {len(root)} bytes")
    return int(size_text), root


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2, step by step. True when `path` proves that `leaf`
    is leaf `index` of the tree of `size` leaves whose root is `root`."""
    # 1. leaf_index must be inside the tree.
    if index >= size:
        return False
    # 2.
    fn, sn = index, size - 1
    # 3.
    r = leaf
    # 4.
    for p in path:
        # 4a. A path longer than the tree is tall.
        if sn == 0:
            return False
        # 4b.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # 4c.
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(first, second, path, first_hash, second_hash):
    """RFC 9162 §2.1.4.2, step by step. True when `path` proves the tree of
    `first` leaves (root `first_hash`) is a prefix of the tree of `second`."""
    if first > second:
        return False
    # Nothing to prove: a tree is consistent with itself, and every tree
    # with the empty one (RFC 9162 §2.1.4.1 proves only 0 < first < second).
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path
    # 1.
    if not path:
        return False
    # 2. A first tree that is a complete subtree is its own first node.
    if first & (first - 1) == 0:
        path = [first_hash] + path
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        # 6a.
        if sn == 0:
            return False
        # 6b.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        # 6c.
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == first_hash and sr == second_hash and sn == 0


TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def parse_tlog_proof(text, what):
    """c2sp.org/tlog-proof "Format": (index, inclusion path, checkpoint note)."""
    lines = text.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise Failed(f"{what}: the first line is not {TLOG_PROOF_HEADER!r}")
    at = 1
    if at < len(lines) and lines[at].startswith("extra "):
        std_b64(lines[at][len("extra "):], f"{what}: extra data")
        at += 1
    index_line = lines[at] if at < len(lines) else ""
    digits = index_line[len("index "):]
    if (
        not index_line.startswith("index ")
        or not digits.isascii()
        or not digits.isdigit()
        or (digits.startswith("0") and digits != "0")
    ):
        raise Failed(f"{what}: no 'index N' line with N in decimal without leading zeros")
    at += 1
    path = []
    while at < len(lines) and lines[at] != "":
        raw = std_b64(lines[at], f"{what}: proof line {len(path) + 1}")
        if len(raw) != HASH_LEN:
            raise Failed(f"{what}: proof line {len(path) + 1} is {len(raw)} bytes, not a SHA-256 hash")
        path.append(raw)
        at += 1
    if at >= len(lines):
        raise Failed(f"{what}: no empty line before the checkpoint")
    return int(digits), path, "\n".join(lines[at + 1:])


def field(obj, key, kind, what):
    value = obj.get(key) if isinstance(obj, dict) else None
    # bool is an int in Python; a leaf index of `true` is not an index.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadInput(f'{what}: "{key}" missing or not a {kind.__name__}')
    return value


def check(doc):
    origin = field(doc, "origin", str, "input")
    keys = jwks_keys(field(doc, "jwks", dict, "input"))

    def checkpoint(note, what):
        text = open_note(note, origin, keys, what)
        return parse_checkpoint(text, origin, what)

    size, root = checkpoint(field(doc, "checkpoint", str, "input"), "checkpoint")

    receipts = field(doc, "receipts", list, "input")
    for i, r in enumerate(receipts):
        what = f"receipts[{i}]"
        jws = field(r, "jws", str, what)
        index = field(r, "leaf_index", int, what)
        path = proof_hashes(field(r, "inclusion_proof", list, what), f"{what}.inclusion_proof")
        if "checkpoint" in r:
            r_size, r_root = checkpoint(field(r, "checkpoint", str, what), f"{what}.checkpoint")
        else:
            r_size, r_root = size, root
        if index < 0:
            raise Failed(f"{what}: negative leaf_index {index}")
        if not verify_inclusion(leaf_hash(jws.encode("utf-8")), index, r_size, path, r_root):
            raise Failed(
                f"{what}: the inclusion proof of leaf {index} does not lead to the root "
                f"of the checkpoint of size {r_size}"
            )

    proofs = field(doc, "consistency", list, "input")
    for i, c in enumerate(proofs):
        what = f"consistency[{i}]"
        old_size, old_root = checkpoint(
            field(c, "old_checkpoint", str, what), f"{what}.old_checkpoint"
        )
        path = proof_hashes(field(c, "proof", list, what), f"{what}.proof")
        if not verify_consistency(old_size, size, path, old_root, root):
            raise Failed(
                f"{what}: the consistency proof does not show the tree of size {old_size} "
                f"is a prefix of the tree of size {size}"
            )

    tlog_proofs = doc.get("tlog_proofs", [])
    if not isinstance(tlog_proofs, list):
        raise BadInput('input: "tlog_proofs" is not a list')
    for i, t in enumerate(tlog_proofs):
        what = f"tlog_proofs[{i}]"
        jws = field(t, "jws", str, what)
        index, path, note = parse_tlog_proof(field(t, "proof", str, what), what)
        t_size, t_root = checkpoint(note, f"{what}: checkpoint")
        if not verify_inclusion(leaf_hash(jws.encode("utf-8")), index, t_size, path, t_root):
            raise Failed(
                f"{what}: the proof of leaf {index} does not lead to the root "
                f"of its checkpoint of size {t_size}"
            )

    return (
        f"ok: checkpoint of size {size} signed under {origin}, "
        f"{len(receipts)} inclusion proofs, {len(proofs)} consistency proofs, "
        f"{len(tlog_proofs)} tlog-proofs"
    )


def main(argv):
    if len(argv) != 2:
        print("usage: check_log.py INPUT.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            doc = json.load(f)
        print(check(doc))
        return 0
    except Failed as err:
        print(f"check_log: FAILED: {err}", file=sys.stderr)
        return 1
    except (BadInput, OSError, ValueError) as err:
        print(f"check_log: bad input: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a crash must not read as a verdict
        print(f"check_log: internal error: {err!r}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
