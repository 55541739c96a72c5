//! The command line: global options, the command tree, dispatch, and the context
//! (`Ctx`) every command receives.
pub mod agenda;
pub mod allocate;
pub mod audit_cmd;
pub mod contact;
pub mod customer;
pub mod dedupe;
pub mod demo;
pub mod export;
pub mod fields;
pub mod import;
pub mod notify;
pub mod output;
pub mod pool;
pub mod recycle;
pub mod report;
pub mod rules;
pub mod safety;
pub mod settings;
pub mod setup;
pub mod sheet;
pub mod team;
pub mod user;
pub mod view;
pub mod work;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::app::{people, scope};
use crate::domain::roles::Action;
use crate::error::{Error, Result};
use crate::store::{Backend, Store, User};
use output::{Format, Out};

const ABOUT: &str =
    "A shared customer pool (公海) for sales, marketing and support teams, over one SQLite file.";
const LONG_ABOUT: &str =
    "A shared customer pool (公海) for sales, marketing and support teams, over one SQLite file.

Claim customers from the pool, log calls and visits, plan follow-ups, release them back,
and let the rules recycle the ones nobody works on. Every change is audit-logged.

Exit codes: 0 ok · 1 other error · 2 usage · 3 not found · 4 permission denied / unknown
user · 5 conflict (owned, limit, cooldown, lock) · 6 invalid input · 7 database busy ·
8 integrity failure.";

#[derive(Debug, Parser)]
#[command(name = "pool", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Database file (default: pool.db in the OS data folder, e.g. ~/.local/share/pool/)
    #[arg(long, global = true, env = "POOL_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Act as this user; only for a pool admin's OS account, and audit rows name both
    /// (default: the pool user named like your OS account)
    #[arg(long = "as", global = true, env = "POOL_USER", value_name = "USER")]
    pub actor: Option<String>,
    /// Output format of data on stdout
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Answer yes to every question (needed for destructive commands without a terminal)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Print no status messages on stderr (errors and warnings still show)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Table columns to show, in this order (e.g. id,name,phone,owner); without it a
    /// table drops its least important columns to fit the terminal (or COLUMNS)
    #[arg(long, global = true, value_name = "A,B,C", value_delimiter = ',')]
    pub columns: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create the database (optional: any command creates it on first use); with
    /// --server, prepare a PostgreSQL database for server mode
    Init(setup::InitArgs),
    /// Teams: groups of users (sales-east, support, marketing)
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Users, their teams and roles (admin, manager, member, viewer)
    #[command(subcommand)]
    User(user::UserCommand),
    /// Add a customer (same as `pool customer add`)
    Add(customer::AddArgs),
    /// Show one customer
    Show(customer::ShowArgs),
    /// List customers, with filters
    #[command(alias = "ls")]
    List(customer::ListArgs),
    /// Change a customer's fields
    Edit(customer::EditArgs),
    /// Delete a customer (kept as a tombstone)
    Delete(customer::DeleteArgs),
    /// Erase a customer's personal data for a deletion request (admin)
    Forget(customer::ForgetArgs),
    /// Customers: add, show, list, edit, delete
    #[command(subcommand)]
    Customer(customer::CustomerCommand),
    /// Claim pooled customers (领取)
    Claim(pool::ClaimArgs),
    /// Release your customers back to the pool (放入公海)
    Release(pool::ReleaseArgs),
    /// Give customers to a user (manager)
    Assign(pool::AssignArgs),
    /// Move customers from one user to another (manager)
    Transfer(pool::TransferArgs),
    /// Lock customers so recycling skips them
    Lock(pool::LockArgs),
    /// Unlock customers
    Unlock(pool::LockArgs),
    /// Log a call, e-mail, meeting, visit, WeChat or note on a customer (沟通记录)
    Log(work::LogArgs),
    /// Follow-up plans (跟进计划): add, list, done, cancel
    #[command(subcommand, alias = "fu")]
    Followup(work::FollowupCommand),
    /// Deals (交易记录)
    #[command(subcommand)]
    Deal(work::DealCommand),
    /// A customer's contact people (联系人): add, list, edit, remove
    #[command(subcommand)]
    Contact(contact::ContactCommand),
    /// My day: overdue and upcoming follow-ups, customers about to be recycled
    Agenda(agenda::AgendaArgs),
    /// Return customers past their pool's rules to the pool (回收); for cron
    Recycle(recycle::RecycleArgs),
    /// Deal a pool's new leads out to its people by its rule (自动分配); for cron
    Allocate(allocate::AllocateArgs),
    /// Settings of the whole database or one team: the time zone
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Send each person's digest of overdue and recycled customers (webhook, e-mail); for cron
    Notify(notify::NotifyArgs),
    /// Pools: the public one and team pools
    #[command(subcommand)]
    Pools(rules::PoolsCommand),
    /// Pool rules: limits, cooldowns, recycling
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Custom fields a pool declares, with a type (客户模板): add, list, remove
    #[command(subcommand)]
    Fields(fields::FieldsCommand),
    /// Import leads from a CSV file (UTF-8, GBK, UTF-16) or an Excel workbook (.xlsx); Chinese or
    /// English headers
    Import(import::ImportArgs),
    /// Export customers as CSV (default), JSON, JSON lines or an Excel workbook (xlsx), with
    /// the list filters
    Export(export::ExportArgs),
    /// Reports: summary, owners, teams, funnel, stale, followups, activity, quality, access, revenue
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The audit trail: log and verify
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Copy the database to FILE while others keep working (online backup)
    Backup(safety::BackupArgs),
    /// Replace the database with a checked backup (the old one is kept aside)
    Restore(safety::RestoreArgs),
    /// Check integrity, foreign keys, the audit chain, WAL mode and inconsistent rows
    Doctor(safety::DoctorArgs),
    /// Find duplicate customers; --apply merges them (cron), --interactive asks; `undo MERGE_ID`
    Dedupe(dedupe::DedupeArgs),
    /// Merge customers by hand: the oldest survives, the others become tombstones
    Merge(dedupe::MergeArgs),
    /// Fill the database with realistic demo customers, teams and users
    Demo(demo::DemoArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(setup::CompletionsArgs),
}

/// What every command gets: the global options, the store (opened on first use) and
/// the acting user (resolved on first use).
pub struct Ctx {
    pub global: Global,
    pub out: Out,
    store: Option<Box<dyn Backend>>,
    actor: Option<User>,
    /// `pool init`: may start a database in an existing empty file.
    pub init: bool,
}

impl Ctx {
    pub fn new(global: Global) -> Ctx {
        let out = Out::new(global.format, global.quiet);
        output::choose_columns(&global.columns);
        Ctx {
            global,
            out,
            store: None,
            actor: None,
            init: false,
        }
    }

    pub fn db_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.global.db {
            return Ok(p.clone());
        }
        let dirs = directories::ProjectDirs::from("", "", "pool").ok_or_else(|| {
            Error::Other(
                "cannot find a home folder for the default database; pass --db PATH".into(),
            )
        })?;
        Ok(dirs.data_dir().join("pool.db"))
    }

    pub fn store(&mut self) -> Result<&mut dyn Backend> {
        if self.store.is_none() {
            let path = self.db_path()?;
            let db = path.to_string_lossy();
            if crate::store::postgres::is_server_url(&db) {
                // Server mode: the server proves who connects and enforces the rules.
                self.store = Some(Box::new(crate::store::postgres::open(&db)?));
            } else {
                // `pool list >> pool.db` would append to the live database.
                crate::outfile::check_stdout(&crate::outfile::Protected::database(&path))?;
                self.store = Some(Box::new(Store::open_with(&path, self.init)?));
            }
        }
        match self.store.as_deref_mut() {
            Some(s) => Ok(s),
            None => Err(Error::Other("database not open".into())),
        }
    }

    /// Closes the database (restore replaces the file underneath).
    pub fn close_store(&mut self) {
        self.store = None;
    }

    pub fn now(&self) -> Result<i64> {
        Ok(crate::clock::now()?.timestamp())
    }

    /// The acting user (see `app::people::identify`: the OS account's pool user, or
    /// `--as` for an admin's OS account; the first command makes the admin).
    pub fn actor(&mut self) -> Result<User> {
        if let Some(u) = &self.actor {
            return Ok(u.clone());
        }
        let wanted = self.global.actor.clone();
        let now = self.now()?;
        let out = self.out;
        let store = self.store()?;
        // On a server the login role is the actor; on a file, the OS account.
        let os = store
            .server_login()
            .unwrap_or_else(crate::identity::os_account);
        let who = people::identify(store, &os, wanted.as_deref(), now)?;
        if who.bootstrapped {
            out.status(format!(
                "pool: new database at {}; your OS account '{os}' is its admin (team 'default')",
                store.location()
            ));
        }
        // The team's (or the database's) time zone decides "today" from here on.
        let zone = crate::app::settings::zone_for(&mut *store.read()?, who.user.team_id)?;
        crate::clock::set_zone(zone);
        self.actor = Some(who.user.clone());
        Ok(who.user)
    }

    /// The acting user, if their role may do `action` (the role check of `app::scope`).
    pub fn require(&mut self, action: Action) -> Result<User> {
        let user = self.actor()?;
        scope::require(&user, action)?;
        Ok(user)
    }
}

pub fn run(cli: Cli) -> Result<()> {
    // A workbook is a file `pool export` writes; refused elsewhere before any work.
    if cli.global.format == Format::Xlsx && !matches!(cli.command, Command::Export(_)) {
        return Err(output::xlsx_only_for_export());
    }
    let mut ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Init(a) => setup::init(&mut ctx, &a),
        Command::Completions(a) => {
            // Never touches the database, but never writes into it either.
            if let Ok(db) = ctx.db_path() {
                crate::outfile::check_stdout(&crate::outfile::Protected::database(&db))?;
            }
            setup::completions(&mut Cli::command(), &a)
        }
        Command::Team(c) => team::run(&mut ctx, c),
        Command::User(c) => user::run(&mut ctx, c),
        Command::Add(a) => customer::add::run(&mut ctx, &a),
        Command::Show(a) => customer::show::run(&mut ctx, &a),
        Command::List(a) => customer::list::run(&mut ctx, &a),
        Command::Edit(a) => customer::edit::run(&mut ctx, &a),
        Command::Delete(a) => customer::delete::run(&mut ctx, &a),
        Command::Forget(a) => customer::forget::run(&mut ctx, &a),
        Command::Customer(c) => customer::run(&mut ctx, c),
        Command::Claim(a) => pool::claim(&mut ctx, &a),
        Command::Release(a) => pool::release(&mut ctx, &a),
        Command::Assign(a) => pool::assign(&mut ctx, &a),
        Command::Transfer(a) => pool::transfer(&mut ctx, &a),
        Command::Lock(a) => pool::lock(&mut ctx, &a, true),
        Command::Unlock(a) => pool::lock(&mut ctx, &a, false),
        Command::Log(a) => work::log(&mut ctx, &a),
        Command::Followup(c) => work::followup(&mut ctx, c),
        Command::Deal(c) => work::deal(&mut ctx, c),
        Command::Contact(c) => contact::run(&mut ctx, c),
        Command::Agenda(a) => agenda::run(&mut ctx, &a),
        Command::Recycle(a) => recycle::run(&mut ctx, &a),
        Command::Allocate(a) => allocate::run(&mut ctx, &a),
        Command::Settings(c) => settings::run(&mut ctx, c),
        Command::Notify(a) => notify::run(&mut ctx, a),
        Command::Pools(c) => rules::pools(&mut ctx, c),
        Command::Rules(c) => rules::rules(&mut ctx, c),
        Command::Fields(c) => fields::run(&mut ctx, c),
        Command::Import(a) => import::run(&mut ctx, &a),
        Command::Export(a) => export::run(&mut ctx, &a),
        Command::Report(c) => report::run(&mut ctx, c),
        Command::Audit(c) => audit_cmd::run(&mut ctx, c),
        Command::Backup(a) => safety::backup(&mut ctx, &a),
        Command::Restore(a) => safety::restore(&mut ctx, &a),
        Command::Doctor(a) => safety::doctor(&mut ctx, &a),
        Command::Dedupe(a) => dedupe::run(&mut ctx, &a),
        Command::Merge(a) => dedupe::merge(&mut ctx, &a),
        Command::Demo(a) => demo::run(&mut ctx, &a),
    }
}
