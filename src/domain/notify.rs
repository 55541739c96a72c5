//! Reminders (`pool notify`): who may run them and configure where they go, what a
//! person's digest holds, which of its items a channel has not had yet, and how a
//! digest reads as a 企业微信 / 钉钉 group-robot message, generic JSON or an e-mail.
//! Pure functions of data: no I/O.
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::mask::mask_in_text;
use crate::domain::roles::{Role, User};
use crate::error::{Error, Result};

/// How a webhook body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 企业微信 group robot: `{"msgtype":"markdown","markdown":{"content":…}}`
    Wecom,
    /// 钉钉 group robot: `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`
    Dingtalk,
    /// The digest as JSON.
    Generic,
    /// An e-mail (SMTP channels).
    Email,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Wecom => "wecom",
            Preset::Dingtalk => "dingtalk",
            Preset::Generic => "generic",
            Preset::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        match s {
            "wecom" => Some(Preset::Wecom),
            "dingtalk" => Some(Preset::Dingtalk),
            "generic" => Some(Preset::Generic),
            "email" => Some(Preset::Email),
            _ => None,
        }
    }
}

/// Running `pool notify` reads every person's work in scope: admins (all teams) and
/// managers (their own team).
pub fn check_run(me: &User, team: Option<i64>) -> Result<()> {
    match me.role {
        Role::Admin => Ok(()),
        Role::Manager if team.is_none_or(|t| t == me.team_id) => Ok(()),
        Role::Manager => Err(Error::Forbidden(format!(
            "managers send their own team's reminders ({})",
            me.team
        ))),
        _ => Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "run pool notify".into(),
        }),
    }
}

/// A webhook URL: http(s), with a host, no spaces.
pub fn check_webhook(url: &str) -> Result<String> {
    let u = url.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !u.contains(char::is_whitespace) => {
            Ok(u.to_string())
        }
        _ => Err(Error::invalid(
            "--webhook",
            "must be an http:// or https:// URL",
        )),
    }
}

/// An SMTP URL: smtp://host:port (plain, for a local relay), smtp://host:587?tls=required
/// (STARTTLS), smtps://host:465 (TLS); user:password@ may precede the host.
pub fn check_smtp(url: &str) -> Result<String> {
    let u = url.trim();
    let rest = u
        .strip_prefix("smtps://")
        .or_else(|| u.strip_prefix("smtp://"));
    match rest {
        Some(r) if !r.is_empty() && !u.contains(char::is_whitespace) => Ok(u.to_string()),
        _ => Err(Error::invalid(
            "--smtp",
            "must be smtp://host:port, smtp://host:587?tls=required or smtps://host:465",
        )),
    }
}

/// An e-mail address as a digest's sender or recipient: one @, something either side.
pub fn check_email(field: &str, addr: &str) -> Result<String> {
    let a = addr.trim();
    match a.split_once('@') {
        Some((l, d))
            if !l.is_empty()
                && d.contains('.')
                && !d.contains('@')
                && !a.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') =>
        {
            Ok(a.to_string())
        }
        _ => Err(Error::invalid(
            field,
            format!("'{a}' is not an e-mail address"),
        )),
    }
}

/// A channel's target as a non-admin sees it: scheme and host, the path and query (the
/// robot's key, a password) hidden.
pub fn mask_target(target: &str) -> String {
    let (scheme, rest) = target.split_once("://").unwrap_or(("", target));
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/****")
}

/// One follow-up in a digest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DueItem {
    pub followup: i64,
    pub customer_id: i64,
    pub customer: Option<String>,
    /// Masked as a colleague sees it.
    pub phone: Option<String>,
    pub assignee: String,
    pub action: String,
    pub due: String,
    pub days_overdue: i64,
    /// The whole number, for the owner's own e-mail only.
    #[serde(skip)]
    pub own_phone: Option<String>,
}

/// A customer recycled from the person.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecycledItem {
    pub event: i64,
    pub customer_id: i64,
    pub customer: Option<String>,
    pub at: Option<String>,
    pub reason: Option<String>,
}

/// A customer about to be recycled.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SoonItem {
    pub customer_id: i64,
    pub customer: Option<String>,
    pub phone: Option<String>,
    pub due: Option<String>,
    pub days_left: i64,
    pub reason: String,
    #[serde(skip)]
    pub own_phone: Option<String>,
}

/// Someone in scope who read or exported unusually much personal data.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccessItem {
    pub user: String,
    pub unmasked_rows: i64,
    pub exported_rows: i64,
    pub since: String,
}

/// One person's digest. Only their own customers, and for managers (and admins) their
/// own team's; contacts masked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Digest {
    pub user: String,
    pub name: Option<String>,
    pub team: String,
    pub date: String,
    pub overdue: Vec<DueItem>,
    pub recycled: Vec<RecycledItem>,
    pub recycle_soon: Vec<SoonItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub team_overdue: Vec<DueItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<DueItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub over_access: Vec<AccessItem>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.items().is_empty()
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.items().len()
    }

    /// Each item's sent-log key: what is reminded of daily carries the day (an overdue
    /// follow-up is reminded of again tomorrow), a recycle event is told once.
    pub fn items(&self) -> Vec<String> {
        let d = &self.date;
        let mut v = Vec::new();
        v.extend(
            self.overdue
                .iter()
                .map(|i| format!("overdue:{}:{d}", i.followup)),
        );
        v.extend(
            self.recycled
                .iter()
                .map(|i| format!("recycled:{}", i.event)),
        );
        v.extend(
            self.recycle_soon
                .iter()
                .map(|i| format!("soon:{}:{d}", i.customer_id)),
        );
        v.extend(
            self.team_overdue
                .iter()
                .map(|i| format!("team:{}:{d}", i.followup)),
        );
        v.extend(
            self.escalations
                .iter()
                .map(|i| format!("escalation:{}:{d}", i.followup)),
        );
        v.extend(
            self.over_access
                .iter()
                .map(|i| format!("access:{}:{d}", i.user)),
        );
        v
    }

    /// The digest without the items a channel has had already (`sent` says which).
    pub fn unsent(&self, sent: impl Fn(&str) -> bool) -> Digest {
        let d = self.date.clone();
        let keep_due = |v: &[DueItem], k: &str| -> Vec<DueItem> {
            v.iter()
                .filter(|i| !sent(&format!("{k}:{}:{d}", i.followup)))
                .cloned()
                .collect()
        };
        Digest {
            user: self.user.clone(),
            name: self.name.clone(),
            team: self.team.clone(),
            date: self.date.clone(),
            overdue: keep_due(&self.overdue, "overdue"),
            recycled: self
                .recycled
                .iter()
                .filter(|i| !sent(&format!("recycled:{}", i.event)))
                .cloned()
                .collect(),
            recycle_soon: self
                .recycle_soon
                .iter()
                .filter(|i| !sent(&format!("soon:{}:{d}", i.customer_id)))
                .cloned()
                .collect(),
            team_overdue: keep_due(&self.team_overdue, "team"),
            escalations: keep_due(&self.escalations, "escalation"),
            over_access: self
                .over_access
                .iter()
                .filter(|i| !sent(&format!("access:{}:{d}", i.user)))
                .cloned()
                .collect(),
        }
    }
}

/// Whole days from a follow-up's due date (YYYY-MM-DD) to `today`.
pub fn days_overdue(due: &str, today: chrono::NaiveDate) -> i64 {
    chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d")
        .map(|d| (today - d).num_days())
        .unwrap_or(0)
}

/// At most this many lines per section in a chat message (robots cap a message at 4 KiB
/// (企业微信) or 20 KB (钉钉)); the rest is counted.
const CHAT_LINES: usize = 15;

fn label(id: i64, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("#{id} {}", mask_in_text(n)),
        None => format!("#{id}"),
    }
}

fn phone(p: &Option<String>) -> String {
    p.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
}

fn section<T>(out: &mut String, title: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("\n**{title} ({})**\n", items.len()));
    for i in items.iter().take(CHAT_LINES) {
        out.push_str(&format!("- {}\n", line(i)));
    }
    if items.len() > CHAT_LINES {
        out.push_str(&format!("- … and {} more\n", items.len() - CHAT_LINES));
    }
}

fn due_line(i: &DueItem, own: bool, with_assignee: bool) -> String {
    let p = if own && i.own_phone.is_some() {
        &i.own_phone
    } else {
        &i.phone
    };
    let who = if with_assignee {
        format!(" — {}", i.assignee)
    } else {
        String::new()
    };
    format!(
        "{}{}: {} (due {}, {} day(s) overdue){who}",
        label(i.customer_id, &i.customer),
        phone(p),
        mask_in_text(&i.action),
        i.due,
        i.days_overdue
    )
}

/// The title of a digest: `pool 提醒 lihua 2026-11-22`.
pub fn title(d: &Digest) -> String {
    format!("pool 提醒 {} {}", d.user, d.date)
}

/// The digest as Markdown (the robots' and the e-mail's text). `own`: the reader is the
/// owner reading alone (an e-mail), so their own customers' numbers show whole.
pub fn markdown(d: &Digest, escalate_days: i64, own: bool) -> String {
    let who = match &d.name {
        Some(n) => format!("{n} ({})", d.user),
        None => d.user.clone(),
    };
    let mut s = format!("### pool: {who}, {}\n", d.date);
    section(&mut s, "Overdue follow-ups", &d.overdue, |i| {
        due_line(i, own, false)
    });
    section(&mut s, "Recycled from you", &d.recycled, |i| {
        format!(
            "{}: {} {}",
            label(i.customer_id, &i.customer),
            i.reason.as_deref().unwrap_or("recycled"),
            i.at.as_deref().unwrap_or("")
        )
    });
    section(&mut s, "To be recycled soon", &d.recycle_soon, |i| {
        let p = if own && i.own_phone.is_some() {
            &i.own_phone
        } else {
            &i.phone
        };
        format!(
            "{}{}: in {} day(s) ({})",
            label(i.customer_id, &i.customer),
            phone(p),
            i.days_left,
            i.reason
        )
    });
    section(
        &mut s,
        &format!("Team {}: overdue follow-ups", d.team),
        &d.team_overdue,
        |i| due_line(i, false, true),
    );
    section(
        &mut s,
        &format!("Escalations: overdue {escalate_days}+ days"),
        &d.escalations,
        |i| due_line(i, false, true),
    );
    section(&mut s, "Over-access flagged", &d.over_access, |i| {
        format!(
            "{}: {} rows read unmasked, {} exported since {}",
            i.user, i.unmasked_rows, i.exported_rows, i.since
        )
    });
    s
}

/// A webhook's JSON body for a preset.
pub fn webhook_body(preset: Preset, d: &Digest, escalate_days: i64) -> Value {
    match preset {
        Preset::Wecom => json!({
            "msgtype": "markdown",
            "markdown": {"content": markdown(d, escalate_days, false)}
        }),
        Preset::Dingtalk => json!({
            "msgtype": "markdown",
            "markdown": {"title": title(d), "text": markdown(d, escalate_days, false)}
        }),
        Preset::Generic | Preset::Email => json!(d),
    }
}

/// Whether a robot's 200 answer reports a failure anyway (`{"errcode":93000,…}`).
pub fn robot_refused(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    match v.get("errcode").and_then(Value::as_i64) {
        Some(0) | None => None,
        Some(code) => Some(format!(
            "errcode {code}: {}",
            v.get("errmsg").and_then(Value::as_str).unwrap_or("")
        )),
    }
}

/// How long to wait before attempt `n` (1-based; the first is not delayed): `base`,
/// doubled each time.
pub fn backoff_ms(n: u32, base: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        base.saturating_mul(1u64 << (n - 2).min(16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles::test_user;

    fn digest() -> Digest {
        Digest {
            user: "lihua".into(),
            name: None,
            team: "east".into(),
            date: "2026-11-22".into(),
            overdue: vec![DueItem {
                followup: 3,
                customer_id: 7,
                customer: Some("张三".into()),
                phone: Some("138****8000".into()),
                assignee: "lihua".into(),
                action: "call 13812348000".into(),
                due: "2026-11-20".into(),
                days_overdue: 2,
                own_phone: Some("13812348000".into()),
            }],
            recycled: vec![RecycledItem {
                event: 9,
                customer_id: 8,
                customer: None,
                at: None,
                reason: Some("no_contact".into()),
            }],
            recycle_soon: vec![],
            team_overdue: vec![],
            escalations: vec![],
            over_access: vec![],
        }
    }

    #[test]
    fn only_admins_and_managers_run_and_managers_for_their_team() {
        assert!(check_run(&test_user(1, Role::Admin, 1), Some(2)).is_ok());
        assert!(check_run(&test_user(1, Role::Manager, 1), None).is_ok());
        assert!(check_run(&test_user(1, Role::Manager, 1), Some(2)).is_err());
        assert!(check_run(&test_user(1, Role::Member, 1), None).is_err());
        assert!(check_run(&test_user(1, Role::Viewer, 1), None).is_err());
    }

    #[test]
    fn targets_are_checked_and_masked() {
        assert!(check_webhook("https://qyapi.weixin.qq.com/x?key=1").is_ok());
        assert!(check_webhook("ftp://x").is_err());
        assert!(check_webhook("https://").is_err());
        assert!(check_smtp("smtp://127.0.0.1:25").is_ok());
        assert!(check_smtp("mail.example.com").is_err());
        assert_eq!(
            mask_target("https://oapi.dingtalk.com/robot/send?access_token=abc"),
            "https://oapi.dingtalk.com/****"
        );
        assert_eq!(
            mask_target("smtp://bot:secret@mail.example.com:587?tls=required"),
            "smtp://mail.example.com:587/****"
        );
        assert!(check_email("--email", "li@example.com").is_ok());
        assert!(check_email("--email", "li@@x.com").is_err());
        assert!(check_email("--email", "li").is_err());
    }

    #[test]
    fn a_channel_gets_only_what_it_has_not_had() {
        let d = digest();
        assert_eq!(d.items(), ["overdue:3:2026-11-22", "recycled:9"]);
        let u = d.unsent(|k| k == "recycled:9");
        assert_eq!(u.len(), 1);
        assert!(d.unsent(|_| true).is_empty());
    }

    #[test]
    fn chat_text_masks_numbers_and_email_shows_the_owners_own() {
        let d = digest();
        let chat = markdown(&d, 3, false);
        assert!(chat.contains("138****8000"), "{chat}");
        assert!(!chat.contains("13812348000"), "{chat}");
        let mail = markdown(&d, 3, true);
        assert!(mail.contains("(13812348000)"), "{mail}");
        let w = webhook_body(Preset::Wecom, &d, 3);
        assert_eq!(w["msgtype"], "markdown");
        assert!(w["markdown"]["content"].as_str().unwrap().contains("张三"));
        let g = webhook_body(Preset::Dingtalk, &d, 3);
        assert_eq!(g["markdown"]["title"], "pool 提醒 lihua 2026-11-22");
    }

    #[test]
    fn robots_refusals_and_backoff() {
        assert_eq!(robot_refused(r#"{"errcode":0,"errmsg":"ok"}"#), None);
        assert!(robot_refused(r#"{"errcode":310000,"errmsg":"sign"}"#).is_some());
        assert_eq!(robot_refused("ok"), None);
        assert_eq!(backoff_ms(1, 100), 0);
        assert_eq!(backoff_ms(2, 100), 100);
        assert_eq!(backoff_ms(3, 100), 200);
    }
}
