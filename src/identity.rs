//! Who runs the process: the OS account of the effective uid, read from the system's
//! account database — never from `USER`, `LOGNAME` or any other variable a user can set,
//! so nobody becomes someone else by setting one, and cron jobs and containers (where
//! `USER` is often unset) still have a name.
use crate::error::{Error, Result};

/// The OS account name of the effective uid; `uid-N` when the system has no name for it
/// (an arbitrary uid in a container).
pub fn os_account() -> String {
    match uzers::get_effective_username() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => format!("uid-{}", uzers::get_effective_uid()),
    }
}

/// A login is a plain name like an OS account's: an ASCII letter or digit first, then
/// ASCII letters, digits, `.`, `_` or `-`, at most 64 characters. No spaces, no
/// `=`/`+`/`@` (a login ends up in CSV and spreadsheet cells), no control characters, and
/// no look-alikes (`lіhua` with a Cyrillic і, full-width `ｌｉｈｕａ`): the display name
/// carries 李华.
pub fn check_login(login: &str) -> Result<()> {
    let mut chars = login.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !first_ok || !rest_ok || login.chars().count() > 64 {
        return Err(Error::invalid(
            "login",
            format!(
                "'{}' is not a plain name (an ASCII letter or digit, then ASCII letters, digits, '.', '_' or '-'; at most 64; 李华 goes in --name)",
                login.escape_debug()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_only() {
        for ok in ["lihua", "li.hua", "li_hua-2", "uid-1000", "A1"] {
            assert!(check_login(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "=cmd",
            "+1",
            "@x",
            "-x",
            "li hua",
            " lihua",
            "a\tb",
            "a\u{0}",
            "a/b",
            "李华",
            "l\u{456}hua",
            "ｌｉｈｕａ",
        ] {
            assert!(check_login(bad).is_err(), "{bad:?}");
        }
        assert!(check_login(&"a".repeat(65)).is_err());
    }
}
