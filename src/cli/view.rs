//! How a customer is shown by `show`, `list` and `export`: personal data masked per the
//! viewer (pool privacy, `customer_rules::sees`), as a list row, a detail record, an
//! export record or CSV cells.
use std::borrow::Cow;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::clock::iso_ts;
use crate::domain::customer::Customer;
use crate::domain::customer_rules::sees;
use crate::domain::fields::FieldDef;
use crate::domain::mask::{mask_address, mask_email, mask_in_text, mask_phone};
use crate::domain::roles::{Role, User};

/// A customer as one list row, with personal data masked per the viewer.
#[derive(Debug, Serialize)]
pub struct CustomerRow {
    pub id: i64,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub stage: String,
    pub level: Option<String>,
    pub industry: Option<String>,
    pub tags: String,
    pub owner: Option<String>,
    pub pool: Option<String>,
    pub last_contact: Option<String>,
    /// Custom fields named in `--columns` (as named there), masked like notes.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

/// Phone, e-mail and address, masked unless the viewer may see them.
pub fn masked(c: &Customer, viewer: &User) -> (Option<String>, Option<String>, Option<String>) {
    if sees(viewer, c) {
        (c.phone.clone(), c.email.clone(), c.address.clone())
    } else {
        (
            c.phone.as_deref().map(mask_phone),
            c.email.as_deref().map(mask_email),
            c.address
                .as_deref()
                .map(|a| mask_in_text(&mask_address(a)).into_owned()),
        )
    }
}

/// Name, company, city, source or tags as shown: a contact typed into them (a name
/// "张三 13912345678") is masked where the viewer sees the customer's contacts masked.
fn plain(reveal: bool, v: &Option<String>) -> Option<String> {
    v.as_deref().map(|s| shown_text(reveal, s).into_owned())
}

pub fn row(c: &Customer, viewer: &User) -> CustomerRow {
    let (phone, email, _) = masked(c, viewer);
    let reveal = sees(viewer, c);
    CustomerRow {
        id: c.id,
        name: plain(reveal, &c.name),
        company: plain(reveal, &c.company),
        phone,
        email,
        city: plain(reveal, &c.city),
        stage: c.stage.clone(),
        level: c.level.clone(),
        industry: c.industry.clone(),
        tags: shown_text(reveal, &c.tags).into_owned(),
        owner: c.owner.clone(),
        pool: if c.owner_id.is_none() {
            Some(c.pool.clone())
        } else {
            None
        },
        last_contact: iso_ts(c.last_contact_at),
        custom: Map::new(),
    }
}

/// A list row with the custom fields `wanted` (names as given in `--columns`, with or
/// without `custom.`) added.
pub fn row_with(c: &Customer, viewer: &User, wanted: &[String]) -> CustomerRow {
    let mut r = row(c, viewer);
    if !wanted.is_empty() {
        let reveal = sees(viewer, c);
        let custom = custom_map(c);
        for w in wanted {
            let key = w.strip_prefix("custom.").unwrap_or(w);
            let v = custom
                .get(key)
                .map(|v| shown_value(reveal, v))
                .unwrap_or(Value::Null);
            r.custom.insert(w.clone(), v);
        }
    }
    r
}

/// Free text (notes, custom values) as shown where contacts are shown (`reveal`) or
/// masked: phone numbers and e-mail addresses inside it are masked too.
pub fn shown_text(reveal: bool, text: &str) -> Cow<'_, str> {
    if reveal {
        Cow::Borrowed(text)
    } else {
        mask_in_text(text)
    }
}

/// Custom fields as shown: string values through `shown_text`; a number, list or object
/// in which masking finds a phone or e-mail (a phone imported as a number) is shown as
/// its masked JSON text.
pub fn shown_value(reveal: bool, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(shown_text(reveal, s).into_owned()),
        Value::Number(_) | Value::Array(_) | Value::Object(_) if !reveal => {
            match mask_in_text(&v.to_string()) {
                Cow::Owned(masked) => Value::String(masked),
                Cow::Borrowed(_) => v.clone(),
            }
        }
        other => other.clone(),
    }
}

/// Every field of one customer, masked per the viewer (`pool show`); custom fields in
/// the order of `declared` (its pool's fields), then any others it keeps.
pub fn detail(c: &Customer, viewer: &User, declared: &[FieldDef]) -> Map<String, Value> {
    let (phone, email, address) = masked(c, viewer);
    let reveal = sees(viewer, c);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(plain(reveal, &c.name)));
    m.insert("company".into(), json!(plain(reveal, &c.company)));
    m.insert("phone".into(), json!(phone));
    m.insert("email".into(), json!(email));
    m.insert("city".into(), json!(plain(reveal, &c.city)));
    m.insert("address".into(), json!(address));
    m.insert("source".into(), json!(plain(reveal, &c.source)));
    m.insert("stage".into(), json!(c.stage));
    m.insert("level".into(), json!(c.level));
    m.insert("industry".into(), json!(c.industry));
    m.insert("tags".into(), json!(shown_text(reveal, &c.tags)));
    m.insert(
        "notes".into(),
        json!(c.notes.as_deref().map(|n| shown_text(reveal, n))),
    );
    for (k, v) in crate::app::fields::ordered(declared, c.custom.as_deref()) {
        m.insert(format!("custom.{k}"), shown_value(reveal, &v));
    }
    m.insert("owner".into(), json!(c.owner));
    m.insert("pool".into(), json!(c.pool));
    m.insert("previous_owner".into(), json!(c.previous_owner));
    m.insert("locked".into(), json!(c.locked));
    m.insert("created".into(), json!(iso_ts(Some(c.created_at))));
    m.insert("updated".into(), json!(iso_ts(Some(c.updated_at))));
    m.insert("claimed".into(), json!(iso_ts(c.claimed_at)));
    m.insert("last_contact".into(), json!(iso_ts(c.last_contact_at)));
    m.insert("released".into(), json!(iso_ts(c.released_at)));
    m
}

/// The fixed export columns, in order; custom fields follow.
pub const COLUMNS: [&str; 17] = [
    "id",
    "name",
    "company",
    "phone",
    "email",
    "city",
    "address",
    "source",
    "stage",
    "level",
    "industry",
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
pub fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// How an export shows a viewer's customers: contacts masked unless asked (and allowed),
/// even for an owner, because an export leaves the tool.
#[derive(Debug, Clone)]
pub struct ExportView {
    viewer: User,
    unmasked: bool,
}

impl ExportView {
    pub fn new(viewer: &User, unmasked: bool) -> ExportView {
        let viewer = if unmasked {
            // Unmasked where the exporter sees them (a manager: pooled customers and
            // their team's), masked elsewhere.
            viewer.clone()
        } else {
            User {
                id: -1,
                role: Role::Viewer,
                ..viewer.clone()
            }
        };
        ExportView { viewer, unmasked }
    }

    fn reveal(&self, c: &Customer) -> bool {
        self.unmasked && sees(&self.viewer, c)
    }

    /// Whether this export shows `c`'s contacts unmasked.
    pub fn reveals(&self, c: &Customer) -> bool {
        self.reveal(c)
    }

    /// One customer as a JSON record with the given custom columns.
    pub fn record(&self, c: &Customer, custom_keys: &[String]) -> Map<String, Value> {
        let (phone, email, address) = masked(c, &self.viewer);
        let reveal = self.reveal(c);
        let mut m = Map::new();
        m.insert("id".into(), json!(c.id));
        m.insert("name".into(), json!(plain(reveal, &c.name)));
        m.insert("company".into(), json!(plain(reveal, &c.company)));
        m.insert("phone".into(), json!(phone));
        m.insert("email".into(), json!(email));
        m.insert("city".into(), json!(plain(reveal, &c.city)));
        m.insert("address".into(), json!(address));
        m.insert("source".into(), json!(plain(reveal, &c.source)));
        m.insert("stage".into(), json!(c.stage));
        m.insert("level".into(), json!(c.level));
        m.insert("industry".into(), json!(c.industry));
        m.insert("tags".into(), json!(shown_text(reveal, &c.tags)));
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
        let custom = custom_map(c);
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

    /// One CSV row in `COLUMNS` order, guarded, without building a JSON map.
    pub fn csv_cells(&self, c: &Customer, custom_keys: &[String], out: &mut Vec<String>) {
        let (phone, email, address) = masked(c, &self.viewer);
        let reveal = self.reveal(c);
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(|s| guard(s).into_owned())
                .unwrap_or_default()
        };
        out.clear();
        out.push(c.id.to_string());
        out.push(text(&plain(reveal, &c.name)));
        out.push(text(&plain(reveal, &c.company)));
        out.push(text(&phone));
        out.push(text(&email));
        out.push(text(&plain(reveal, &c.city)));
        out.push(text(&address));
        out.push(text(&plain(reveal, &c.source)));
        out.push(guard(&c.stage).into_owned());
        out.push(text(&c.level));
        out.push(text(&c.industry));
        out.push(guard(&shown_text(reveal, &c.tags)).into_owned());
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
            let custom = custom_map(c);
            for k in custom_keys {
                out.push(match custom.get(k) {
                    Some(Value::String(s)) => guard(&shown_text(reveal, s)).into_owned(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => guard(&shown_text(reveal, &other.to_string())).into_owned(),
                });
            }
        }
    }
}

/// Custom fields as an export reads them: anything but an object is none.
fn custom_map(c: &Customer) -> Map<String, Value> {
    c.custom
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}
