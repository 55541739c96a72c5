//! `pool fields add|list|remove`: custom fields declared per pool with a type (客户模板).
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use super::Ctx;
use crate::app::fields as app;
use crate::domain::fields::{FieldDef, FieldKind};
use crate::domain::roles::Action;
use crate::error::Result;

/// A field type as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Any text; `--where KEY~TEXT` searches it
    Text,
    /// A number (1,200 and 3.5 are fine); compared with > >= < <=
    Number,
    /// A date as people type it (2026-12-08, 12-08, 12月8日, 明天), stored as YYYY-MM-DD
    Date,
    /// One of --choices, matched ignoring case and stored in the declared spelling
    Choice,
}

impl From<KindArg> for FieldKind {
    fn from(k: KindArg) -> FieldKind {
        match k {
            KindArg::Text => FieldKind::Text,
            KindArg::Number => FieldKind::Number,
            KindArg::Date => FieldKind::Date,
            KindArg::Choice => FieldKind::Choice,
        }
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum FieldsCommand {
    /// Declare a custom field in a pool (admin): pool fields add 行业 --type choice --choices 制造业,零售,互联网
    Add {
        /// Field name, e.g. 行业, 预算, 签约日期 (not a customer field such as city or level)
        name: String,
        /// Its type
        #[arg(long = "type", value_enum, default_value_t = KindArg::Text)]
        kind: KindArg,
        /// The choices of a choice field, separated by , ， or 、
        #[arg(long, value_name = "A,B,C")]
        choices: Option<String>,
        /// Pool whose customers get the field (default: public)
        #[arg(long, default_value = "public")]
        pool: String,
    },
    /// List a pool's fields in declared order (anyone who sees the pool)
    #[command(alias = "ls")]
    List {
        /// Pool (default: public)
        #[arg(long, default_value = "public")]
        pool: String,
    },
    /// Remove a field's declaration (admin); customers keep their values, shown and
    /// exported as plain custom fields
    #[command(alias = "rm")]
    Remove {
        /// Field name
        name: String,
        /// Pool (default: public)
        #[arg(long, default_value = "public")]
        pool: String,
    },
}

#[derive(Serialize)]
struct FieldRow {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    choices: String,
}

fn row(d: &FieldDef) -> FieldRow {
    FieldRow {
        name: d.name.clone(),
        kind: d.kind.as_str(),
        choices: d.choices.join(","),
    }
}

pub fn run(ctx: &mut Ctx, cmd: FieldsCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        FieldsCommand::Add {
            name,
            kind,
            choices,
            pool,
        } => {
            let me = ctx.require(Action::ManageRules)?;
            let d = app::add(
                ctx.store()?,
                &me,
                &pool,
                &name,
                kind.into(),
                choices.as_deref(),
                now,
            )?;
            out.status(format!(
                "added field '{}' ({}) to pool '{pool}'",
                d.name,
                d.kind.as_str()
            ));
            if out.is_json() {
                out.record(&row(&d))?;
            }
            Ok(())
        }
        FieldsCommand::List { pool } => {
            let me = ctx.require(Action::ReadCustomers)?;
            let defs = app::list(ctx.store()?, &me, &pool)?;
            let rows: Vec<FieldRow> = defs.iter().map(row).collect();
            out.rows(
                &rows,
                &format!("pool '{pool}' declares no fields (pool fields add NAME --type text --pool {pool})"),
            )
        }
        FieldsCommand::Remove { name, pool } => {
            let me = ctx.require(Action::ManageRules)?;
            let d = app::remove(ctx.store()?, &me, &pool, &name, now)?;
            out.status(format!(
                "removed field '{}' from pool '{pool}'; customers keep their values",
                d.name
            ));
            Ok(())
        }
    }
}
