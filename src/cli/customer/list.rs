//! `pool list`: the customers you may see that match the filters, masked per the viewer.
use clap::{Args, ValueEnum};

use super::{filter, FilterArgs};
use crate::app::customer::{self as app, ListRequest};
use crate::cli::output::Format;
use crate::cli::view::{row_with, CustomerRow};
use crate::cli::Ctx;
use crate::domain::roles::Action;
use crate::error::Result;
use crate::store::Sort;

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Sort by
    #[arg(long, value_enum, default_value_t = SortBy::Id)]
    pub sort: SortBy,
    /// Sort descending
    #[arg(long)]
    pub desc: bool,
    /// At most N rows (0 = all)
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

/// The orders `--sort` offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    #[default]
    Id,
    Name,
    Company,
    City,
    Created,
    Updated,
    LastContact,
    Stage,
}

impl From<SortBy> for Sort {
    fn from(s: SortBy) -> Sort {
        match s {
            SortBy::Id => Sort::Id,
            SortBy::Name => Sort::Name,
            SortBy::Company => Sort::Company,
            SortBy::City => Sort::City,
            SortBy::Created => Sort::Created,
            SortBy::Updated => Sort::Updated,
            SortBy::LastContact => Sort::LastContact,
            SortBy::Stage => Sort::Stage,
        }
    }
}

pub fn run(ctx: &mut Ctx, a: &ListArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let req = ListRequest {
        query: filter(&a.filters)?,
        sort: a.sort.into(),
        desc: a.desc,
        limit: (a.limit > 0).then_some(a.limit),
    };
    let found = app::list(ctx.store()?, &me, &req, now)?;
    // Custom fields appear when `--columns` names them (as NAME or custom.NAME); any
    // other unknown name is refused by the table, which lists the columns there are.
    const FIXED: &[&str] = &[
        "id",
        "name",
        "company",
        "phone",
        "email",
        "city",
        "stage",
        "level",
        "industry",
        "tags",
        "owner",
        "pool",
        "last_contact",
    ];
    let chosen: Vec<String> = crate::cli::output::chosen_columns()
        .iter()
        .filter(|c| !FIXED.contains(&c.as_str()))
        .cloned()
        .collect();
    let wanted: Vec<String> = if chosen.is_empty() {
        chosen
    } else {
        let known = crate::app::fields::known_names(ctx.store()?, &me)?;
        chosen
            .into_iter()
            .filter(|c| {
                known
                    .iter()
                    .any(|k| k == c.strip_prefix("custom.").unwrap_or(c))
            })
            .collect()
    };
    let rows: Vec<CustomerRow> = found.iter().map(|c| row_with(c, &me, &wanted)).collect();
    out.rows(&rows, "no customers match")?;
    if req.limit == Some(rows.len() as i64) && out.format == Format::Table {
        out.status(format!("(first {} shown; --limit 0 shows all)", rows.len()));
    }
    Ok(())
}
