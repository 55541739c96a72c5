//! The README's tour runs as pasted: the first ```sh block after "## A tour", run with
//! `bash -euo pipefail` (and `-x`, so a failure names its line) in an empty folder holding a copy of `examples/`, with the built
//! `pool` first on PATH, a fresh database and no `POOL_USER` or `POOL_NOW`.
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// The first ```sh block after the "## A tour" heading, without its fences.
fn tour_block(readme: &str) -> String {
    let tour = readme
        .find("\n## A tour")
        .expect("README has a '## A tour' heading");
    let rest = &readme[tour..];
    let start = rest
        .find("\n```sh\n")
        .expect("a ```sh block after '## A tour'")
        + "\n```sh\n".len();
    let body = &rest[start..];
    let end = body.find("\n```").expect("the ```sh block is closed");
    body[..=end].to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

#[test]
fn readme_tour_runs_as_pasted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let script = tour_block(&readme);
    assert!(
        script.contains("pool import examples/leads.csv"),
        "the tour imports examples/leads.csv:\n{script}"
    );

    let dir = TempDir::new().expect("temp dir");
    // A copy, not a link: the import writes its rejects file next to examples/leads.csv.
    copy_dir(&root.join("examples"), &dir.path().join("examples"));

    let pool = assert_cmd::cargo::cargo_bin("pool");
    let bin_dir = pool.parent().expect("the binary's folder");
    let mut paths = vec![bin_dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    let path = std::env::join_paths(paths).expect("PATH");

    let out = Command::new("bash")
        .args(["-x", "-euo", "pipefail", "-c", &script])
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("POOL_DB", dir.path().join("pool.db"))
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "the README tour failed ({}):\n--- stderr ---\n{}\n--- stdout (tail) ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        tail(&String::from_utf8_lossy(&out.stdout), 40)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
