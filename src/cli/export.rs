//! `pool export`: customers out as CSV, JSON or JSON lines, masked by role, with cells a
//! spreadsheet would run as a formula neutralised. Every export is audit-logged.
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};

use super::customer::{filter, masked, sees, shown_text, shown_value, FilterArgs};
use super::output::Format;
use super::Ctx;
use crate::clock::iso_ts;
use crate::domain::roles::{allowed, Action};
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::customers::{self, Customer};
use crate::store::User;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout (a new file; never the database or any
    /// SQLite file)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists (still never a database)
    #[arg(long, requires = "output")]
    pub force: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Export phone, e-mail and address unmasked (managers and admins; audit-logged)
    #[arg(long)]
    pub unmasked: bool,
}

/// The fixed columns, in order; custom fields follow.
pub const COLUMNS: [&str; 15] = [
    "id",
    "name",
    "company",
    "phone",
    "email",
    "city",
    "address",
    "source",
    "stage",
    "tags",
    "notes",
    "owner",
    "pool",
    "created",
    "last_contact",
];

/// OWASP CSV injection: a cell starting with = + - @ tab or CR is prefixed with a quote
/// so a spreadsheet shows it as text. `pool import` removes the quote again (a cell that
/// itself starts with a quote gets one more, so the round trip is exact).
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Phone, e-mail and address as an export shows them: masked unless asked (and allowed),
/// even for an owner, because an export leaves the tool.
fn contacts(
    c: &Customer,
    viewer: &User,
    unmasked: bool,
) -> (Option<String>, Option<String>, Option<String>) {
    if unmasked {
        // Unmasked where the exporter sees them (a manager: pooled customers and their
        // team's), masked elsewhere.
        masked(c, viewer)
    } else {
        let nobody = User {
            id: -1,
            role: crate::domain::roles::Role::Viewer,
            ..viewer.clone()
        };
        masked(c, &nobody)
    }
}

fn record(
    c: &Customer,
    viewer: &User,
    unmasked: bool,
    custom_keys: &[String],
) -> Map<String, Value> {
    let (phone, email, address) = contacts(c, viewer, unmasked);
    let reveal = unmasked && sees(viewer, c);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    m.insert("company".into(), json!(c.company));
    m.insert("phone".into(), json!(phone));
    m.insert("email".into(), json!(email));
    m.insert("city".into(), json!(c.city));
    m.insert("address".into(), json!(address));
    m.insert("source".into(), json!(c.source));
    m.insert("stage".into(), json!(c.stage));
    m.insert("tags".into(), json!(c.tags));
    m.insert(
        "notes".into(),
        json!(c.notes.as_deref().map(|n| shown_text(reveal, n))),
    );
    m.insert("owner".into(), json!(c.owner));
    m.insert(
        "pool".into(),
        json!(if c.owner_id.is_none() {
            Some(&c.pool)
        } else {
            None
        }),
    );
    m.insert("created".into(), json!(iso_ts(Some(c.created_at))));
    m.insert("last_contact".into(), json!(iso_ts(c.last_contact_at)));
    let custom: Map<String, Value> = c
        .custom
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    for k in custom_keys {
        m.insert(
            format!("custom.{k}"),
            custom
                .get(k)
                .map(|v| shown_value(reveal, v))
                .unwrap_or(Value::Null),
        );
    }
    m
}

/// One CSV row in `COLUMNS` order, guarded, without building a JSON map per customer.
fn csv_cells(
    c: &Customer,
    viewer: &User,
    unmasked: bool,
    custom_keys: &[String],
    out: &mut Vec<String>,
) {
    let (phone, email, address) = contacts(c, viewer, unmasked);
    let reveal = unmasked && sees(viewer, c);
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(|s| guard(s).into_owned())
            .unwrap_or_default()
    };
    out.clear();
    out.push(c.id.to_string());
    out.push(text(&c.name));
    out.push(text(&c.company));
    out.push(text(&phone));
    out.push(text(&email));
    out.push(text(&c.city));
    out.push(text(&address));
    out.push(text(&c.source));
    out.push(guard(&c.stage).into_owned());
    out.push(guard(&c.tags).into_owned());
    out.push(
        c.notes
            .as_deref()
            .map(|n| guard(&shown_text(reveal, n)).into_owned())
            .unwrap_or_default(),
    );
    out.push(text(&c.owner));
    out.push(if c.owner_id.is_none() {
        guard(&c.pool).into_owned()
    } else {
        String::new()
    });
    out.push(iso_ts(Some(c.created_at)).unwrap_or_default());
    out.push(iso_ts(c.last_contact_at).unwrap_or_default());
    if !custom_keys.is_empty() {
        let custom: Map<String, Value> = c
            .custom
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        for k in custom_keys {
            out.push(match custom.get(k) {
                Some(Value::String(s)) => guard(&shown_text(reveal, s)).into_owned(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            });
        }
    }
}

pub fn run(ctx: &mut Ctx, a: &ExportArgs) -> Result<()> {
    let me = ctx.require(Action::Export)?;
    if a.unmasked && !allowed(me.role, Action::ExportUnmasked) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: Action::ExportUnmasked.describe().into(),
        });
    }
    let now = ctx.now()?;
    let out = ctx.out;
    let format = match out.format {
        Format::Table => Format::Csv,
        f => f,
    };
    let store = ctx.store()?;
    let f = filter(&store.conn, &me, &a.filters, now)?;
    // The custom columns: every custom field name ever imported (empty cells where a
    // customer has none), known without a first pass over the table.
    let keys = customers::known_custom_fields(&store.conn)?;
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => {
            let protect = crate::outfile::Protected::database(&store.path);
            Box::new(crate::outfile::create(p, "--output", &protect, a.force)?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    // The audit row is committed before the first byte leaves: an export that is cut off
    // (a closed pipe, a full disk) has still been recorded. `rows` is the count when the
    // export starts.
    let rows = customers::count(&store.conn, &f)?;
    let tx = store.begin()?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "export",
            entity: "customers",
            entity_id: None,
            before: None,
            after: Some(json!({
                "rows": rows,
                "unmasked": a.unmasked,
                "format": clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_string()),
                "filter": serde_json::to_value(&a.filters)?,
                "file": a.output.as_ref().map(|p| p.display().to_string()),
            })),
        },
    )?;
    tx.commit()?;
    let mut w = BufWriter::with_capacity(1 << 16, sink);
    let mut n: u64 = 0;
    match format {
        Format::Csv | Format::Table => {
            let mut c = csv::Writer::from_writer(&mut w);
            let mut head: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
            head.extend(keys.iter().map(|k| format!("custom.{k}")));
            c.write_record(head.iter().map(|h| guard(h).into_owned()))?;
            let mut cells: Vec<String> = Vec::with_capacity(COLUMNS.len() + keys.len());
            customers::for_each(&store.conn, &f, |cust| {
                csv_cells(&cust, &me, a.unmasked, &keys, &mut cells);
                c.write_record(&cells)?;
                n += 1;
                Ok(())
            })?;
            c.flush()?;
        }
        Format::Json => {
            w.write_all(b"[")?;
            customers::for_each(&store.conn, &f, |cust| {
                if n > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"\n  ")?;
                serde_json::to_writer(&mut w, &record(&cust, &me, a.unmasked, &keys))?;
                n += 1;
                Ok(())
            })?;
            w.write_all(b"\n]\n")?;
        }
        Format::Jsonl => {
            customers::for_each(&store.conn, &f, |cust| {
                serde_json::to_writer(&mut w, &record(&cust, &me, a.unmasked, &keys))?;
                w.write_all(b"\n")?;
                n += 1;
                Ok(())
            })?;
        }
    }
    w.flush()?;
    drop(w);
    out.status(format!(
        "exported {n} customer(s){}{}",
        if a.unmasked {
            " unmasked"
        } else {
            " (phone, e-mail and address masked; --unmasked for managers)"
        },
        a.output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    ));
    Ok(())
}
