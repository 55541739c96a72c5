//! `pool add`: ask for the missing fields on a terminal, add through `app`, warn of
//! likely duplicates.
use std::io::IsTerminal;

use clap::Args;
use serde::Serialize;

use super::FieldArgs;
use super::StageArg;
use crate::app::customer::{self as app, NewCustomer, Place};
use crate::cli::Ctx;
use crate::domain::customer::CustomerInput;
use crate::domain::roles::Action;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Lifecycle stage
    #[arg(long, value_enum, default_value_t = StageArg::Lead)]
    pub stage: StageArg,
    /// Put the customer in this pool (unowned) instead of owning it yourself
    #[arg(long, value_name = "POOL", num_args = 0..=1, default_missing_value = "public")]
    pub pool: Option<String>,
    /// Give the customer to this user (manager/admin)
    #[arg(long, value_name = "USER", conflicts_with = "pool")]
    pub owner: Option<String>,
}

#[derive(Serialize)]
struct Added {
    id: i64,
    name: Option<String>,
    company: Option<String>,
    owner: Option<String>,
    pool: Option<String>,
    possible_duplicates: Vec<i64>,
}

fn prompt_missing(input: &mut CustomerInput) -> Result<()> {
    let ask = |label: &str| -> Result<Option<String>> {
        let s: String = dialoguer::Input::new()
            .with_prompt(label)
            .allow_empty(true)
            .interact_text()
            .map_err(|e| Error::Other(format!("prompt failed: {e}")))?;
        Ok(Some(s).filter(|s| !s.trim().is_empty()))
    };
    if input.name.is_none() {
        input.name = ask("Name (姓名)")?;
    }
    if input.company.is_none() {
        input.company = ask("Company (公司)")?;
    }
    if input.phone.is_none() {
        input.phone = ask("Phone (电话)")?;
    }
    if input.email.is_none() {
        input.email = ask("E-mail (邮箱)")?;
    }
    if input.city.is_none() {
        input.city = ask("City (城市)")?;
    }
    Ok(())
}

pub fn run(ctx: &mut Ctx, a: &AddArgs) -> Result<()> {
    let me = ctx.require(Action::AddCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let mut input = a.fields.input();
    if input.name.is_none()
        && input.company.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        prompt_missing(&mut input)?;
    }
    let place = match (&a.owner, &a.pool) {
        (Some(o), _) => Place::Owner(o.clone()),
        (None, Some(p)) => Place::Pool(p.clone()),
        (None, None) => Place::Mine,
    };
    let new = NewCustomer {
        input,
        stage: a.stage.into(),
        place,
        extras: a.fields.extras(&[])?,
    };
    let done = app::add(ctx.store()?, &me, &new, now)?;
    let id = done.id;
    for (d, why) in &done.duplicates {
        out.warn(format!(
            "customer {id} looks like a duplicate of customer {d} ({why}); see pool show {d}"
        ));
    }
    out.status(format!("added customer {id}"));
    out.record(&Added {
        id,
        name: done.fields.name,
        company: done.fields.company,
        owner: done.owner,
        pool: done.pool,
        possible_duplicates: done.duplicates.iter().map(|(d, _)| *d).collect(),
    })
}
