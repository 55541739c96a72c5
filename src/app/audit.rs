//! Reading and proving the audit trail: `pool audit log|verify`.
use serde::Serialize;

use super::scope;
use crate::domain::audit::Verifier;
use crate::domain::roles::{Action, Role, User};
use crate::error::{Error, Result};
use crate::store::{Backend, LogFilter, LogRow};

/// Audit rows matching `f`, newest first. A manager sees what their team's users did.
pub fn log(store: &mut dyn Backend, me: &User, mut f: LogFilter) -> Result<Vec<LogRow>> {
    scope::require(me, Action::ReadAudit)?;
    f.actors_in_team = (me.role == Role::Manager).then_some(me.team_id);
    let mut tx = store.read()?;
    if let Some(u) = &f.actor {
        tx.user(u)?;
    }
    tx.audit_log(&f)
}

/// A verified chain.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub ok: bool,
    pub rows: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub expect: Option<String>,
}

/// Recomputes the hash chain (exit 8 at the first broken row). `expect`: a head kept
/// from an earlier run, which the chain must still contain. The head this OS user last
/// verified on this database must still be in the chain unless `forget_head`; the new
/// head is remembered (outside the database).
pub fn verify(
    store: &mut dyn Backend,
    me: &User,
    expect: Option<&str>,
    forget_head: bool,
) -> Result<Verified> {
    scope::require(me, Action::ReadAudit)?;
    // A malformed --expect is a typo (exit 6), not a rewritten chain (exit 8).
    let expected = expect.map(parse_expect).transpose()?;
    let key = store.location();
    let mut tx = store.read()?;
    let mut v = Verifier::default();
    let mut broken = None;
    tx.for_each_audit(&mut |row| match v.push(&row) {
        Ok(()) => Ok(true),
        Err(b) => {
            broken = Some(b);
            Ok(false)
        }
    })?;
    if let Some(b) = broken {
        return Err(Error::Integrity(format!(
            "audit chain broken: {b} (rows 1..{} verify; head there {})",
            v.head_seq, v.head_hash
        )));
    }
    if let Some((seq, hash)) = &expected {
        match tx.audit_seq_of_hash(hash)? {
            None => {
                return Err(Error::Integrity(format!(
                    "the expected head {hash} is not in the chain: it was truncated or rewritten (head now {}:{})",
                    v.head_seq, v.head_hash
                )))
            }
            Some(found) if seq.is_some_and(|s| s != found) => {
                return Err(Error::Integrity(format!(
                    "the expected head is at row {found}, not {}: the chain was rewritten",
                    seq.unwrap_or_default()
                )))
            }
            Some(_) => {}
        }
    }
    if let (Some((seq, hash, when)), false) = (remembered_head(&key), forget_head) {
        if tx.audit_seq_of_hash(&hash)? != Some(seq) {
            return Err(Error::Integrity(format!(
                "the chain no longer contains the head verified at {when} ({seq}:{hash}): it was truncated or rewritten (head now {}:{}); if a restore replaced the database on purpose, run pool audit verify --forget-head",
                v.head_seq, v.head_hash
            )));
        }
    }
    remember_head(&key, v.head_seq, &v.head_hash);
    Ok(Verified {
        ok: true,
        rows: v.rows,
        head_seq: v.head_seq,
        head_hash: v.head_hash,
        expect: expect.map(str::to_string),
    })
}

/// After a restore the restoring admin's remembered head moves to the restored chain
/// (others' `audit verify` say the chain changed until they accept it).
pub fn remember_current_head(store: &mut dyn Backend) -> Result<()> {
    let key = store.location();
    if let Some((seq, hash)) = store.read()?.audit_head()? {
        remember_head(&key, seq, &hash);
    }
    Ok(())
}

/// Where this OS user keeps the audit heads they verified: one line per database,
/// `PATH<TAB>SEQ<TAB>HASH<TAB>WHEN`, in the OS data folder (outside every database, so
/// whoever rewrites a database cannot rewrite it too, unless they are this OS user).
fn heads_file() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "pool").map(|d| d.data_dir().join("verified-heads.tsv"))
}

/// A database's key in that file: its canonical path (or the location as given).
fn db_key(location: &str) -> String {
    std::fs::canonicalize(location)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| location.to_string())
}

/// The head last verified for a database by this OS user: (seq, hash, when).
fn remembered_head(location: &str) -> Option<(i64, String, String)> {
    let key = db_key(location);
    let text = std::fs::read_to_string(heads_file()?).ok()?;
    text.lines().rev().find_map(|l| {
        let mut f = l.split('\t');
        (f.next()? == key).then_some(())?;
        let seq = f.next()?.parse().ok()?;
        let hash = f.next()?.to_string();
        let when = f.next().unwrap_or("").to_string();
        Some((seq, hash, when))
    })
}

/// Remembers `seq:hash` as the verified head (best effort: a read-only home folder only
/// loses the memory, never the verification).
fn remember_head(location: &str, seq: i64, hash: &str) {
    let Some(file) = heads_file() else {
        return;
    };
    let key = db_key(location);
    let when = crate::clock::iso_ts(Some(crate::clock::real_now())).unwrap_or_default();
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split('\t').next() != Some(key.as_str()))
        .map(String::from)
        .collect();
    lines.push(format!("{key}\t{seq}\t{hash}\t{when}"));
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = file.with_extension(format!("tsv.{}", std::process::id()));
    if std::fs::write(&tmp, lines.join("\n") + "\n").is_ok() {
        let _ = std::fs::rename(&tmp, &file);
    }
}

/// `HASH` or `SEQ:HASH` as `audit verify` prints it: a positive row number and 64 hex
/// digits (SHA-256).
fn parse_expect(e: &str) -> Result<(Option<i64>, String)> {
    let bad = |why: &str| {
        Error::invalid_hint(
            "--expect",
            format!("'{e}' {why}"),
            "pass the head exactly as `pool audit verify` printed it: SEQ:HASH or HASH",
        )
    };
    let (seq, hash) = match e.split_once(':') {
        Some((s, h)) => (
            Some(
                s.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("does not start with a row number (SEQ:HASH)"))?,
            ),
            h.trim(),
        ),
        None => (None, e.trim()),
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("is not a head hash (64 hexadecimal digits)"));
    }
    Ok((seq, hash.to_ascii_lowercase()))
}
