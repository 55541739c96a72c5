//! `pool notify`: deliver each person's digest (for cron); `pool notify channel
//! add|list|remove`: where a team's digests go.
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::Ctx;
use crate::app::notify::{self as app, Options, Target};
use crate::deliver::Net;
use crate::domain::notify::Preset;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: Option<ChannelCommand>,
    /// Only this team's people (a manager: their own team, the default for them)
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    /// Tell of customers recycled since this time (RFC 3339 or YYYY-MM-DD) instead of
    /// since the last successful run
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Follow-ups overdue by this many days or more are escalated to the team's manager
    #[arg(long, value_name = "DAYS", default_value_t = 3)]
    pub escalate_after: i64,
    /// Show what would be sent, with the payloads; send and record nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Tries per message before it counts as failed (tried again on the next run)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub attempts: u32,
    /// Wait before the second try, doubled for each further one (milliseconds)
    #[arg(
        long,
        value_name = "MS",
        env = "POOL_NOTIFY_BACKOFF_MS",
        default_value_t = 2000
    )]
    pub backoff_ms: u64,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ChannelCommand {
    /// Where a team's digests go: webhooks and SMTP servers (admin adds and removes)
    #[command(subcommand)]
    Channel(Channel),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Channel {
    /// Add a delivery channel to a team (admin)
    Add(AddChannel),
    /// List the channels (the URLs whole for admins only)
    #[command(alias = "ls")]
    List {
        /// Only this team's (anyone but an admin: their own team's)
        #[arg(long, value_name = "TEAM")]
        team: Option<String>,
    },
    /// Stop delivering on a channel (admin)
    #[command(alias = "rm")]
    Remove {
        /// The channel's id (see `pool notify channel list`)
        id: i64,
    },
}

/// How a webhook's body is shaped.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    /// 企业微信 group robot: {"msgtype":"markdown","markdown":{"content":…}}
    Wecom,
    /// 钉钉 group robot: {"msgtype":"markdown","markdown":{"title":…,"text":…}}
    Dingtalk,
    /// The digest as JSON
    Generic,
}

#[derive(Debug, Args)]
pub struct AddChannel {
    /// The team whose people's digests go here
    #[arg(long, value_name = "TEAM")]
    pub team: String,
    /// POST each digest as JSON to this URL (http:// or https://)
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "smtp",
        required_unless_present = "smtp"
    )]
    pub webhook: Option<String>,
    /// The webhook body's shape
    #[arg(long, value_enum, default_value_t = PresetArg::Generic, requires = "webhook")]
    pub preset: PresetArg,
    /// E-mail each digest to its person (see `pool user set --email`) through this server:
    /// smtp://host:25 (plain, a local relay), smtp://user:pass@host:587?tls=required
    /// (STARTTLS) or smtps://user:pass@host:465 (TLS)
    #[arg(long, value_name = "URL", requires = "from")]
    pub smtp: Option<String>,
    /// The sender address of the e-mails
    #[arg(long, value_name = "ADDR", requires = "smtp")]
    pub from: Option<String>,
}

pub fn run(ctx: &mut Ctx, a: NotifyArgs) -> Result<()> {
    match a.command {
        Some(ChannelCommand::Channel(c)) => channel(ctx, c),
        None => notify(ctx, &a),
    }
}

fn notify(ctx: &mut Ctx, a: &NotifyArgs) -> Result<()> {
    let me = ctx.actor()?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let since = a
        .since
        .as_deref()
        .map(|s| {
            crate::clock::parse_instant(s.trim())
                .map(|t| t.timestamp())
                .ok_or_else(|| {
                    Error::invalid("--since", format!("'{s}' is not RFC 3339 or YYYY-MM-DD"))
                })
        })
        .transpose()?;
    let opts = Options {
        team: a.team.clone(),
        since,
        escalate_days: a.escalate_after,
        dry_run: a.dry_run,
    };
    let courier = Net {
        attempts: a.attempts,
        backoff_ms: a.backoff_ms,
        timeout: Duration::from_secs(10),
    };
    let run = app::notify(ctx.store()?, &me, &opts, &courier, clock)?;
    if out.is_json() {
        out.json(&run)?;
    } else {
        out.rows(&run.deliveries, "nothing to send")?;
    }
    let failed = run.count("failed");
    out.status(format!(
        "{} digest(s); {} {}, {} failed, {} without an e-mail address",
        run.digests.len(),
        if a.dry_run {
            run.count("would_send")
        } else {
            run.count("sent")
        },
        if a.dry_run { "would be sent" } else { "sent" },
        failed,
        run.count("no_email"),
    ));
    if failed > 0 {
        return Err(Error::Other(format!(
            "{failed} digest(s) could not be delivered; the next run tries them again"
        )));
    }
    Ok(())
}

fn channel(ctx: &mut Ctx, c: Channel) -> Result<()> {
    let me = ctx.actor()?;
    let now = ctx.now()?;
    let out = ctx.out;
    match c {
        Channel::Add(a) => {
            let target = match (&a.webhook, &a.smtp) {
                (Some(url), _) => Target::Webhook {
                    url: url.clone(),
                    preset: match a.preset {
                        PresetArg::Wecom => Preset::Wecom,
                        PresetArg::Dingtalk => Preset::Dingtalk,
                        PresetArg::Generic => Preset::Generic,
                    },
                },
                (None, Some(url)) => Target::Smtp {
                    url: url.clone(),
                    from: a.from.clone().unwrap_or_default(),
                },
                (None, None) => {
                    return Err(Error::Usage(
                        "say where: --webhook URL or --smtp URL".into(),
                    ))
                }
            };
            let v = app::add_channel(ctx.store()?, &me, &a.team, &target, now)?;
            out.status(format!(
                "added {} channel {} for team '{}'",
                v.kind, v.id, v.team
            ));
            out.record(&v)
        }
        Channel::List { team } => {
            let rows = app::list_channels(ctx.store()?, &me, team.as_deref())?;
            out.rows(&rows, "no channels")
        }
        Channel::Remove { id } => {
            app::remove_channel(ctx.store()?, &me, id, now)?;
            out.status(format!("removed channel {id}"));
            Ok(())
        }
    }
}
