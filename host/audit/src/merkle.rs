//! The RFC 6962 / RFC 9162 Merkle tree over the log's entries: leaf and node
//! hashes, the tree head of any size, the [`Frontier`] an append extends in
//! O(log n), and inclusion and consistency proofs (generated from the leaf
//! hashes, verified with the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms).

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a tree head.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The head of the empty tree: `SHA-256()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[n]) of the leaf hashes `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::default();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// The right edge of the tree: the roots of its perfect subtrees, largest
/// first (one per set bit of the size). Appending a leaf and computing the
/// head both take O(log n) hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(height, root)` of each perfect subtree, left to right.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees, `(height, root)`, left to right.
    pub fn nodes(&self) -> &[(u32, Hash)] {
        &self.nodes
    }

    /// A frontier saved with [`Frontier::nodes`]; `None` unless the
    /// heights strictly decrease and add up to `size` leaves.
    pub fn from_nodes(size: u64, nodes: Vec<(u32, Hash)>) -> Option<Frontier> {
        let decreasing = nodes.windows(2).all(|w| w[0].0 > w[1].0);
        let total = nodes
            .iter()
            .try_fold(0u64, |acc, (h, _)| acc.checked_add(1u64.checked_shl(*h)?));
        (decreasing && total == Some(size)).then_some(Frontier { size, nodes })
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.nodes.last() {
            if height != node.0 {
                break;
            }
            self.nodes.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The tree head of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = nodes.next() else {
            return empty_root();
        };
        for (_, left) in nodes {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 PATH),
/// from the leaf up; `None` when `index` is outside the tree.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    (index < leaves.len()).then(|| {
        let mut proof = Vec::new();
        path(index, leaves, &mut proof);
        proof
    })
}

fn path(index: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if index < k {
        path(index, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(index - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// Whether `proof` shows that `leaf` is leaf `index` of the tree of
/// `size` leaves whose head is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The proof that the tree of the first `old` leaves is a prefix of the tree
/// of `leaves` (RFC 6962 PROOF); `None` unless `0 < old <= leaves.len()`.
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if old == 0 || old > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    subproof(old, leaves, true, &mut proof);
    Some(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Whether `proof` shows that the tree of `old` leaves with head `old_root`
/// is a prefix of the tree of `new` leaves with head `new_root` (RFC 9162
/// §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old == 0 || old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of the certificate-transparency reference test vectors.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// MTH(D[n]) for n = 1..8 from the same reference vectors.
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect()
    }

    fn hexes(hashes: &[Hash]) -> Vec<String> {
        hashes.iter().map(hex::encode).collect()
    }

    #[test]
    fn roots_match_the_rfc6962_test_vectors() {
        let leaves = leaves();
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut frontier = Frontier::default();
        for (n, expected) in ROOTS.iter().enumerate() {
            frontier.push(leaves[n]);
            assert_eq!(hex::encode(frontier.root()), *expected, "size {}", n + 1);
            assert_eq!(hex::encode(root(&leaves[..=n])), *expected);
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_and_verify() {
        let leaves = leaves();
        let proof = inclusion_proof(5, &leaves).unwrap();
        assert_eq!(
            hexes(&proof),
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        for n in 1..=leaves.len() {
            let head = root(&leaves[..n]);
            for i in 0..n {
                let proof = inclusion_proof(i, &leaves[..n]).unwrap();
                assert!(verify_inclusion(
                    i as u64, n as u64, &leaves[i], &proof, &head
                ));
                // Another leaf, index or size does not verify.
                let other = leaves[(i + 1) % 8];
                assert!(!verify_inclusion(i as u64, n as u64, &other, &proof, &head));
                assert!(!verify_inclusion(
                    n as u64, n as u64, &leaves[i], &proof, &head
                ));
                let wrong = leaf_hash(b"another head");
                assert!(!verify_inclusion(
                    i as u64, n as u64, &leaves[i], &proof, &wrong
                ));
            }
        }
        assert!(inclusion_proof(8, &leaves).is_none());
    }

    #[test]
    fn consistency_proofs_match_the_reference_and_verify() {
        let leaves = leaves();
        let proof = consistency_proof(3, &leaves).unwrap();
        assert_eq!(
            hexes(&proof),
            [
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        for new in 1..=leaves.len() {
            let new_root = root(&leaves[..new]);
            for old in 1..=new {
                let old_root = root(&leaves[..old]);
                let proof = consistency_proof(old, &leaves[..new]).unwrap();
                let (o, n) = (old as u64, new as u64);
                assert!(verify_consistency(o, n, &old_root, &new_root, &proof));
                let wrong = leaf_hash(b"rewritten");
                assert!(!verify_consistency(o, n, &wrong, &new_root, &proof));
                assert!(!verify_consistency(o, n, &old_root, &wrong, &proof));
            }
        }
        assert!(consistency_proof(0, &leaves).is_none());
        assert!(consistency_proof(9, &leaves).is_none());
    }

    #[test]
    fn a_large_frontier_matches_the_recursive_root() {
        let leaves: Vec<Hash> = (0..1000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::default();
        for (n, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            if n % 97 == 0 || n == 999 {
                let expected = recursive(&leaves[..=n]);
                assert_eq!(frontier.root(), expected, "size {}", n + 1);
            }
        }
        assert_eq!(frontier.size(), 1000);
    }

    /// MTH written as RFC 6962 defines it, to check the frontier against.
    fn recursive(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&recursive(&leaves[..k]), &recursive(&leaves[k..]))
            }
        }
    }
}
