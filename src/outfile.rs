//! Every file `pool` writes goes through here, so no output can land on the database.
//!
//! A hostile (or tired) user can point any output option at the live database, at its
//! `-wal`/`-shm`/`-journal`, at another SQLite file, or at a symbolic or hard link to one
//! of them. Paths are never compared as strings: files are compared by what they are
//! (device and inode, after the kernel resolves every link), and the check is made on
//! the file descriptor that is then written to, so a link swapped in between the check
//! and the write cannot redirect it.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files that belong to one database: never written by an output option.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    /// (device, inode) of each of the database's files that exists now.
    ids: Vec<(u64, u64)>,
    /// Where each of them is or would be, with the folder resolved (for files that do
    /// not exist yet: writing a new -wal would be as bad as overwriting it).
    paths: Vec<PathBuf>,
}

/// The suffixes SQLite adds to a database's name for its side files.
pub const SIDE_FILES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Protected {
    /// The database at `db` and its side files.
    pub fn database(db: &Path) -> Protected {
        let mut p = Protected::default();
        let real_db = resolve(db).unwrap_or_else(|| db.to_path_buf());
        for suffix in SIDE_FILES {
            for base in [db, real_db.as_path()] {
                let mut s = base.as_os_str().to_owned();
                s.push(suffix);
                let file = PathBuf::from(s);
                if let Ok(m) = std::fs::metadata(&file) {
                    p.ids.push((m.dev(), m.ino()));
                }
                p.paths.push(resolve(&file).unwrap_or(file));
            }
        }
        p
    }

    fn holds(&self, m: &std::fs::Metadata) -> bool {
        self.ids.contains(&(m.dev(), m.ino()))
    }

    /// Whether `path` (after every link) is one of the database's files. Decided with
    /// `stat`, never by opening the file: closing any descriptor of a file drops every
    /// POSIX lock this process holds on it, SQLite's included.
    pub fn holds_path(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| self.holds(&m))
    }

    /// Refuses when `path` is one of the database's files, or where one of them would
    /// be (a new `pool.db-journal` would be rolled into the database as a hot journal).
    pub fn check_path(&self, path: &Path, what: &str) -> Result<()> {
        let would_be = || resolve(path).is_some_and(|real| self.paths.contains(&real));
        if self.holds_path(path) || would_be() {
            return Err(is_database(what));
        }
        Ok(())
    }

    /// Refuses when an already open file is one of the database's files (the check
    /// after opening: only a file swapped in since `check_path` can fail it).
    fn check_open(&self, f: &File, what: &str) -> Result<()> {
        let m = f.metadata()?;
        if self.holds(&m) {
            return Err(is_database(what));
        }
        Ok(())
    }
}

fn is_database(what: &str) -> Error {
    Error::invalid(
        what,
        "is the live database or one of its -wal/-shm/-journal files; pool never writes output there",
    )
}

/// The path with its folder resolved (symbolic links, `..`), following a final symbolic
/// link too when it points at an existing file. None if the folder does not exist.
fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(p) {
        return Some(real);
    }
    let name = p.file_name()?;
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

/// Whether the file starts with SQLite's header (any database, not only ours).
fn starts_like_sqlite(f: &mut File) -> bool {
    let mut head = [0u8; 16];
    let ok = f.read_exact(&mut head).is_ok() && &head == SQLITE_MAGIC;
    let _ = f.seek(SeekFrom::Start(0));
    ok
}

/// Opens `path` for writing output (`what` names the option in errors).
///
/// - never a file of the protected database, by any name or link (exit 6);
/// - never an existing SQLite database, even with `force` (exit 6);
/// - an existing regular file only with `force` (exit 6 otherwise); devices and pipes
///   (`/dev/stdout`, a FIFO) are fine;
/// - a new file is created exclusively (`O_EXCL`), so it cannot be a link planted there.
pub fn create(path: &Path, what: &str, protect: &Protected, force: bool) -> Result<File> {
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(Error::invalid(
            what,
            format!("'{}' is not a file name", path.display()),
        ));
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path, what, protect),
        Err(e) => Err(cannot_write(path, e)),
        Ok(link) => {
            // Follows a symbolic link to its end; a dangling one is refused (creating its
            // target would write through a link someone else planted).
            let target = std::fs::metadata(path).map_err(|_| {
                Error::invalid(
                    what,
                    format!("{} is a symbolic link to a missing file", path.display()),
                )
            })?;
            if protect.holds(&target) {
                return Err(is_database(what));
            }
            let regular = target.is_file();
            if regular && !force {
                return Err(Error::invalid(
                    what,
                    format!(
                        "{} exists; pass --force to overwrite it, or choose another file",
                        path.display()
                    ),
                ));
            }
            let _ = link;
            // Opened without truncation, then checked again on the descriptor itself.
            let mut f = OpenOptions::new()
                .read(regular)
                .write(true)
                .open(path)
                .map_err(|e| cannot_write(path, e))?;
            let m = f.metadata()?;
            if protect.holds(&m) {
                return Err(is_database(what));
            }
            if m.is_file() {
                if starts_like_sqlite(&mut f) {
                    return Err(Error::invalid(
                        what,
                        format!(
                            "{} is an SQLite database; pool never overwrites one with output",
                            path.display()
                        ),
                    ));
                }
                f.set_len(0)?;
            }
            Ok(f)
        }
    }
}

fn create_new(path: &Path, what: &str, protect: &Protected) -> Result<File> {
    let real = resolve(path).ok_or_else(|| {
        Error::invalid(
            what,
            format!("the folder of {} does not exist", path.display()),
        )
    })?;
    if protect.paths.contains(&real) {
        return Err(is_database(what));
    }
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::invalid(
                what,
                format!(
                    "{} appeared while pool was about to create it; try again",
                    path.display()
                ),
            ),
            _ => cannot_write(path, e),
        })?;
    protect.check_open(&f, what)?;
    Ok(f)
}

fn cannot_write(path: &Path, e: std::io::Error) -> Error {
    Error::invalid(
        "output file",
        format!("cannot write {}: {e}", path.display()),
    )
}

/// A new file beside `target` (same folder, so a rename is atomic), created exclusively:
/// `target.TAG-PID[-N]`. The caller removes it or renames it over the target.
pub fn temp_beside(target: &Path, tag: &str, protect: &Protected) -> Result<(PathBuf, File)> {
    for n in 0..100u32 {
        let mut s = target.as_os_str().to_owned();
        s.push(format!(".{tag}-{}", std::process::id()));
        if n > 0 {
            s.push(format!("-{n}"));
        }
        let p = PathBuf::from(s);
        match create_new(&p, tag, protect) {
            Ok(f) => return Ok((p, f)),
            Err(Error::InvalidInput { msg, .. }) if msg.contains("appeared") => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Other(format!(
        "cannot create a temporary file beside {}",
        target.display()
    )))
}

/// A name that does not exist yet: `base`, else `stem-2.ext`, `stem-3.ext`, … for a
/// short extension (`leads.csv.rejects-2.csv`), else `base-2`, `base-3`, … (for files
/// the tool names itself, such as an import's rejects file: a re-run never overwrites the
/// last run's file, nor a file someone else put there).
pub fn unused_name(base: &Path) -> PathBuf {
    if std::fs::symlink_metadata(base).is_err() {
        return base.to_path_buf();
    }
    let short_ext = base
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 4 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    for n in 2u32.. {
        let p = match (short_ext, base.file_stem()) {
            (Some(ext), Some(stem)) => {
                let mut name = stem.to_owned();
                name.push(format!("-{n}.{ext}"));
                base.with_file_name(name)
            }
            _ => {
                let mut s = base.as_os_str().to_owned();
                s.push(format!("-{n}"));
                PathBuf::from(s)
            }
        };
        if std::fs::symlink_metadata(&p).is_err() {
            return p;
        }
    }
    unreachable!("u32 names exhausted")
}

/// Checks that neither stdout nor stderr is one of the database's files (`pool export >>
/// pool.db` would append CSV to the live database). Call it before this process opens
/// the database: it closes duplicates of both, which would drop SQLite's locks if one of
/// them were the database.
pub fn check_stdout(protect: &Protected) -> Result<()> {
    use std::os::fd::AsFd;
    let out = std::io::stdout().as_fd().try_clone_to_owned()?;
    protect.check_open(&File::from(out), "stdout")?;
    let err = std::io::stderr().as_fd().try_clone_to_owned()?;
    // Not a word on stderr: it is the database.
    protect
        .check_open(&File::from(err), "stderr")
        .map_err(|_| Error::Silent(6))
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(of: &Path) {
    if let Some(dir) = of.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn db(dir: &Path) -> PathBuf {
        let p = dir.join("pool.db");
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x);")
            .unwrap();
        std::mem::forget(c); // keep -wal and -shm in place
        p
    }

    #[test]
    fn the_database_by_any_name_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let live = db(d.path());
        let protect = Protected::database(&live);
        std::os::unix::fs::symlink(&live, d.path().join("link")).unwrap();
        std::fs::hard_link(&live, d.path().join("hard")).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        for p in [
            live.clone(),
            d.path().join("link"),
            d.path().join("hard"),
            d.path().join("sub/../pool.db"),
            d.path().join("pool.db-wal"),
            d.path().join("pool.db-journal"),
        ] {
            let e = create(&p, "-o", &protect, true).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{}: {e}", p.display());
        }
    }

    #[test]
    fn other_sqlite_files_existing_files_and_dangling_links() {
        let d = tempfile::tempdir().unwrap();
        let live = db(d.path());
        let protect = Protected::database(&live);
        let other = d.path().join("other.db");
        rusqlite::Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        assert_eq!(
            create(&other, "-o", &protect, true)
                .unwrap_err()
                .exit_code(),
            6
        );
        let plain = d.path().join("plain.csv");
        std::fs::write(&plain, "old contents").unwrap();
        assert!(create(&plain, "-o", &protect, false).is_err());
        let mut f = create(&plain, "-o", &protect, true).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"new");
        std::os::unix::fs::symlink(d.path().join("nowhere"), d.path().join("dangling")).unwrap();
        assert!(create(&d.path().join("dangling"), "-o", &protect, true).is_err());
        assert!(!d.path().join("nowhere").exists());
        let fresh = d.path().join("fresh.csv");
        create(&fresh, "-o", &protect, false).unwrap();
        assert!(fresh.exists());
        assert!(create(&d.path().join("missing/x.csv"), "-o", &protect, false).is_err());
    }

    #[test]
    fn unused_names_count_up() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("a.csv.rejects.csv");
        assert_eq!(unused_name(&base), base);
        std::fs::write(&base, "x").unwrap();
        assert_eq!(unused_name(&base), d.path().join("a.csv.rejects-2.csv"));
        let aside = d.path().join("pool.db.before-restore-123");
        std::fs::write(&aside, "x").unwrap();
        assert_eq!(
            unused_name(&aside),
            d.path().join("pool.db.before-restore-123-2")
        );
    }
}
