//! `pool contact add|list|edit|remove`: a customer's contact people (联系人). Who may
//! change them is who may edit the customer; their phone and e-mail are masked exactly
//! where the customer's own are.
use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::confirm;
use super::Ctx;
use crate::app::contact as app;
use crate::domain::contact::ContactInput;
use crate::domain::roles::Action;
use crate::error::Result;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContactCommand {
    /// Add a contact person to a customer, e.g. `pool contact add 1042 --name 李娜 --title
    /// 采购经理 --phone 13900001111`
    Add(ContactAddArgs),
    /// List a customer's contact people (phone and e-mail masked as the customer's are)
    #[command(alias = "ls")]
    List(ContactListArgs),
    /// Change a contact person's fields
    Edit(ContactEditArgs),
    /// Remove a contact person for good (the audit trail keeps a masked copy)
    #[command(alias = "rm")]
    Remove(ContactRemoveArgs),
}

// A contact's fields as typed. (Not a doc comment: with the command tree built lazily,
// a flattened struct's doc would become its commands' about text.)
#[derive(Debug, Clone, Default, Args)]
pub struct ContactFieldArgs {
    /// The person's name, e.g. 李娜 (required when adding)
    #[arg(long)]
    pub name: Option<String>,
    /// Their job title, e.g. 采购经理
    #[arg(long)]
    pub title: Option<String>,
    /// Phone, checked and keyed like the customer's (e.g. 13900001111, +86 139 0000 1111)
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail, checked and stored lower-cased like the customer's
    #[arg(long)]
    pub email: Option<String>,
}

impl ContactFieldArgs {
    fn input(&self) -> ContactInput {
        ContactInput {
            name: self.name.clone(),
            title: self.title.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ContactAddArgs {
    /// Customer id
    pub id: i64,
    #[command(flatten)]
    pub fields: ContactFieldArgs,
}

#[derive(Debug, Args)]
pub struct ContactListArgs {
    /// Customer id
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct ContactEditArgs {
    /// Customer id
    pub id: i64,
    /// Contact number (the `contact` column of `pool contact list ID`)
    pub contact: i64,
    #[command(flatten)]
    pub fields: ContactFieldArgs,
    /// Empty a field: title, phone or email (repeatable; a contact keeps its name)
    #[arg(long, value_name = "FIELD")]
    pub clear: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContactRemoveArgs {
    /// Customer id
    pub id: i64,
    /// Contact number (the `contact` column of `pool contact list ID`)
    pub contact: i64,
}

/// One contact as a row (the `contact` column is the number edit and remove take).
#[derive(Serialize)]
pub struct ContactRow {
    pub contact: i64,
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl From<app::ContactView> for ContactRow {
    fn from(v: app::ContactView) -> ContactRow {
        ContactRow {
            contact: v.id,
            name: v.name,
            title: v.title,
            phone: v.phone,
            email: v.email,
        }
    }
}

#[derive(Serialize)]
struct Changed {
    customer: i64,
    contact: i64,
    result: &'static str,
    changed: Vec<String>,
}

pub fn run(ctx: &mut Ctx, cmd: ContactCommand) -> Result<()> {
    match cmd {
        ContactCommand::Add(a) => add(ctx, &a),
        ContactCommand::List(a) => list(ctx, &a),
        ContactCommand::Edit(a) => edit(ctx, &a),
        ContactCommand::Remove(a) => remove(ctx, &a),
    }
}

fn add(ctx: &mut Ctx, a: &ContactAddArgs) -> Result<()> {
    let me = ctx.require(Action::EditCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let id = app::add(ctx.store()?, &me, a.id, &a.fields.input(), now)?;
    out.status(format!("contact {id} added to customer {}", a.id));
    out.record(&Changed {
        customer: a.id,
        contact: id,
        result: "added",
        changed: Vec::new(),
    })
}

fn list(ctx: &mut Ctx, a: &ContactListArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let listed = app::list(ctx.store()?, &me, a.id, now)?;
    let rows: Vec<ContactRow> = listed.contacts.into_iter().map(Into::into).collect();
    out.rows(&rows, &format!("customer {} has no contact people", a.id))
}

fn edit(ctx: &mut Ctx, a: &ContactEditArgs) -> Result<()> {
    let me = ctx.require(Action::EditCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let changed = app::edit(
        ctx.store()?,
        &me,
        a.id,
        a.contact,
        &a.fields.input(),
        &a.clear,
        now,
    )?;
    let result = if changed.is_empty() {
        out.status(format!("contact {} unchanged", a.contact));
        "unchanged"
    } else {
        out.status(format!(
            "contact {} changed: {}",
            a.contact,
            changed.join(", ")
        ));
        "updated"
    };
    out.record(&Changed {
        customer: a.id,
        contact: a.contact,
        result,
        changed,
    })
}

fn remove(ctx: &mut Ctx, a: &ContactRemoveArgs) -> Result<()> {
    let me = ctx.require(Action::EditCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    if !confirm(
        ctx.global.yes,
        &format!("remove contact {} of customer {}?", a.contact, a.id),
    )? {
        out.status("nothing removed");
        return Ok(());
    }
    app::remove(ctx.store()?, &me, a.id, a.contact, now)?;
    out.status(format!(
        "contact {} of customer {} removed",
        a.contact, a.id
    ));
    out.record(&Changed {
        customer: a.id,
        contact: a.contact,
        result: "removed",
        changed: Vec::new(),
    })
}
