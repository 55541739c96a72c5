//! Audit hashing: hash = SHA-256(prev_hash || canonical encoding of the row).
use sha2::{Digest, Sha256};

/// The chain starts from 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What one audit row says, before it is chained.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    pub seq: i64,
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    /// The OS account that ran the command, when it acted as another user (`--as`).
    pub os_user: Option<&'a str>,
    /// The simulated time (`POOL_NOW`) the change was made for, when one was set; `at`
    /// is always the real time.
    pub sim_at: Option<i64>,
}

/// Canonical encoding: a JSON array in a fixed order, so the same row always hashes the
/// same. The fields added in schema 7 are appended only when set, so every row written
/// before them hashes exactly as it did.
pub fn canonical(e: &Entry) -> String {
    let mut row = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.entity,
        e.entity_id,
        e.before,
        e.after
    ]);
    if e.os_user.is_some() || e.sim_at.is_some() {
        if let Some(a) = row.as_array_mut() {
            a.push(serde_json::json!({"os_user": e.os_user, "sim_at": e.sim_at}));
        }
    }
    row.to_string()
}

pub fn chain_hash(prev_hash: &str, e: &Entry) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical(e).as_bytes());
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str) -> Entry<'_> {
        Entry {
            seq: 1,
            at: 100,
            actor,
            action: "claim",
            entity: "customer",
            entity_id: Some(7),
            before: None,
            after: Some("{\"owner\":\"li\"}"),
            os_user: None,
            sim_at: None,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = chain_hash(GENESIS, &entry("li"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, chain_hash(GENESIS, &entry("lj")));
        assert_ne!(a, chain_hash(&a, &entry("li")));
        assert_eq!(a, chain_hash(GENESIS, &entry("li")));
        let by_root = Entry {
            os_user: Some("root"),
            ..entry("li")
        };
        assert_ne!(a, chain_hash(GENESIS, &by_root));
        let simulated = Entry {
            sim_at: Some(5),
            ..entry("li")
        };
        assert_ne!(a, chain_hash(GENESIS, &simulated));
    }

    #[test]
    fn rows_without_the_new_fields_hash_as_before() {
        // The encoding of schema 1–6 rows, byte for byte.
        assert_eq!(
            canonical(&entry("li")),
            r#"[1,100,"li","claim","customer",7,null,"{\"owner\":\"li\"}"]"#
        );
    }
}

/// One stored row, as read back for verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub os_user: Option<String>,
    pub sim_at: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
    /// What the server checked, for a reader who may not read every row (a manager on a
    /// server): the content fields, `at` and the hashes are then empty, but for the last
    /// row's `hash`, which is a digest of the head ([`head_digest`]). None: the verifier
    /// checks the row itself.
    pub checked: Option<Checked>,
}

/// One row as the server checked it for a reader who may not read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The content matches the hash.
    pub intact: bool,
    /// The row's `prev_hash` is the hash of the row before it (or the genesis).
    pub linked: bool,
    /// The row is not older than the row before it.
    pub ordered: bool,
}

/// What a reader who may not read every row is given instead of the head's hash (and
/// remembers as the verified head): a one-way digest, so that knowing it for one head
/// does not let them test guesses of the next row's content against the next head
/// (`chain_hash(head, canonical(guess))`). The server's `pool_private.head_digest`.
pub fn head_digest(hash: &str) -> String {
    format!(
        "{:x}",
        Sha256::digest(format!("pool head digest:{hash}").as_bytes())
    )
}

impl Stored {
    fn entry(&self) -> Entry<'_> {
        Entry {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: self.entity_id,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
            os_user: self.os_user.as_deref(),
            sim_at: self.sim_at,
        }
    }
}

/// What is wrong with the chain at its first bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// A sequence number is missing: rows were deleted.
    Missing { expected: i64, found: i64 },
    /// The row's content no longer matches its hash: it was edited.
    Edited { seq: i64 },
    /// The row is intact but does not follow its predecessor: re-ordered or spliced.
    Unlinked { seq: i64 },
    /// The row is intact and linked but older than its predecessor: back-dated.
    OutOfOrder { seq: i64, at: i64, previous_at: i64 },
    /// The same, found by the server for a reader who may not see the times.
    BackDated { seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Missing { expected, found } => write!(
                f,
                "row {expected} is missing (next row is {found}): rows were deleted"
            ),
            Break::Edited { seq } => write!(
                f,
                "row {seq} was edited: its content does not match its hash"
            ),
            Break::Unlinked { seq } => write!(
                f,
                "row {seq} does not follow row {}: rows were re-ordered or replaced",
                seq - 1
            ),
            Break::OutOfOrder {
                seq,
                at,
                previous_at,
            } => write!(
                f,
                "row {seq} is dated {at}, before row {} ({previous_at}): it was back-dated",
                seq - 1
            ),
            Break::BackDated { seq } => write!(
                f,
                "row {seq} is dated before row {}: it was back-dated",
                seq - 1
            ),
        }
    }
}

/// Checks rows one at a time, in seq order, keeping only the previous hash.
#[derive(Debug)]
pub struct Verifier {
    pub rows: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The time of the last row: rows never go back in time (pool writes the real time,
    /// never earlier than the row before).
    pub head_at: i64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            rows: 0,
            head_seq: 0,
            head_hash: GENESIS.to_string(),
            head_at: i64::MIN,
        }
    }
}

impl Verifier {
    pub fn push(&mut self, row: &Stored) -> Result<(), Break> {
        let expected = self.head_seq + 1;
        if row.seq != expected {
            return Err(Break::Missing {
                expected,
                found: row.seq,
            });
        }
        // The same three checks, made here or (for a reader who may not read the row)
        // by the server.
        let c = row.checked.unwrap_or_else(|| Checked {
            intact: chain_hash(&row.prev_hash, &row.entry()) == row.hash,
            linked: row.prev_hash == self.head_hash,
            ordered: row.at >= self.head_at,
        });
        if !c.intact {
            return Err(Break::Edited { seq: row.seq });
        }
        if !c.linked {
            return Err(Break::Unlinked { seq: row.seq });
        }
        if !c.ordered {
            return Err(match row.checked {
                Some(_) => Break::BackDated { seq: row.seq },
                None => Break::OutOfOrder {
                    seq: row.seq,
                    at: row.at,
                    previous_at: self.head_at,
                },
            });
        }
        self.head_at = row.at;
        self.rows += 1;
        self.head_seq = row.seq;
        self.head_hash.clone_from(&row.hash);
        Ok(())
    }
}

#[cfg(test)]
mod verify_tests {
    use super::*;

    fn chain(n: i64) -> Vec<Stored> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut s = Stored {
                    seq,
                    at: seq * 10,
                    actor: "li".into(),
                    action: "claim".into(),
                    entity: "customer".into(),
                    entity_id: Some(seq),
                    before: None,
                    after: Some(format!("{{\"n\":{seq}}}")),
                    os_user: None,
                    sim_at: None,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    checked: None,
                };
                s.hash = chain_hash(&prev, &s.entry());
                prev = s.hash.clone();
                s
            })
            .collect()
    }

    fn verify(rows: &[Stored]) -> Result<Verifier, Break> {
        let mut v = Verifier::default();
        for r in rows {
            v.push(r)?;
        }
        Ok(v)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        let v = verify(&c).unwrap();
        assert_eq!(v.head_seq, 5);
        assert_eq!(v.head_hash, c[4].hash);
    }

    #[test]
    fn edits_deletions_and_swaps_are_named() {
        let mut c = chain(5);
        c[2].actor = "mallory".into();
        assert_eq!(verify(&c).unwrap_err(), Break::Edited { seq: 3 });
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c).unwrap_err(),
            Break::Missing {
                expected: 2,
                found: 3
            }
        );
        let mut c = chain(5);
        // Swap the contents of rows 2 and 3 but keep their seq numbers.
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = Stored { seq: 2, ..b };
        c[2] = Stored { seq: 3, ..a };
        assert!(matches!(verify(&c).unwrap_err(), Break::Edited { seq: 2 }));
    }

    proptest::proptest! {
        /// Any single mutation of a chain is an error naming a row, never a panic.
        #[test]
        fn mutated_chains_are_caught(n in 2i64..20, at in 0usize..20, field in 0u8..6, text in "[a-z]{1,12}") {
            let mut c = chain(n);
            let i = at % c.len();
            let last = c.len() - 1;
            match field {
                0 => c[i].actor.push_str(&text),
                1 => c[i].at += 1,
                2 => c[i].after = Some(text.clone()),
                3 => c[i].prev_hash = text.clone(),
                // Dropping the last row leaves a shorter valid chain: only --expect sees it.
                4 if i == last => return Ok(()),
                4 => { c.remove(i); }
                5 if i == last => return Ok(()),
                _ => c.swap(i, i + 1),
            }
            proptest::prop_assert!(verify(&c).is_err());
        }
    }

    #[test]
    fn a_back_dated_row_is_out_of_order() {
        let mut c = chain(4);
        // Row 3 written (and hashed) with a time before row 2's.
        c[2].at = 5;
        c[2].hash = chain_hash(&c[2].prev_hash.clone(), &c[2].entry());
        c[3].prev_hash = c[2].hash.clone();
        c[3].hash = chain_hash(&c[3].prev_hash.clone(), &c[3].entry());
        assert_eq!(
            verify(&c).unwrap_err(),
            Break::OutOfOrder {
                seq: 3,
                at: 5,
                previous_at: 20
            }
        );
    }

    #[test]
    fn a_rehashed_splice_is_unlinked() {
        let mut c = chain(4);
        // Rewrite row 3 consistently with a forged prev_hash.
        c[2].prev_hash = GENESIS.into();
        c[2].hash = chain_hash(GENESIS, &c[2].entry());
        assert_eq!(verify(&c).unwrap_err(), Break::Unlinked { seq: 3 });
    }
}
