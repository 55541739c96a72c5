//! `pool add|show|list|edit|delete|forget` (also under `pool customer`): one file per
//! command; the fields and filters they share are here.
pub mod add;
pub mod delete;
pub mod edit;
pub mod forget;
pub mod list;
pub mod show;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Ctx;
use crate::app::customer::{Extras, Query};
use crate::domain::customer::{CustomerInput, Stage};

/// A stage as the command line spells it (the domain's `Stage` knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StageArg {
    /// 潜在客户
    Lead,
    /// 成交客户
    Customer,
    /// 忠诚客户
    Loyal,
    /// 流失客户
    Churned,
}

impl From<StageArg> for Stage {
    fn from(s: StageArg) -> Stage {
        match s {
            StageArg::Lead => Stage::Lead,
            StageArg::Customer => Stage::Customer,
            StageArg::Loyal => Stage::Loyal,
            StageArg::Churned => Stage::Churned,
        }
    }
}
use crate::error::Result;

pub use add::AddArgs;
pub use delete::DeleteArgs;
pub use edit::EditArgs;
pub use forget::ForgetArgs;
pub use list::ListArgs;
pub use show::ShowArgs;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CustomerCommand {
    /// Add a customer
    Add(AddArgs),
    /// Show one customer
    Show(ShowArgs),
    /// List customers, with filters
    #[command(alias = "ls")]
    List(ListArgs),
    /// Change a customer's fields
    Edit(EditArgs),
    /// Delete a customer (kept as a tombstone)
    Delete(DeleteArgs),
}

pub fn run(ctx: &mut Ctx, cmd: CustomerCommand) -> Result<()> {
    match cmd {
        CustomerCommand::Add(a) => add::run(ctx, &a),
        CustomerCommand::Show(a) => show::run(ctx, &a),
        CustomerCommand::List(a) => list::run(ctx, &a),
        CustomerCommand::Edit(a) => edit::run(ctx, &a),
        CustomerCommand::Delete(a) => delete::run(ctx, &a),
    }
}

// The editable fields, shared by `add` and `edit`. (Not a doc comment: with the command
// tree built lazily, a flattened struct's doc would become its commands' about text.)
#[derive(Debug, Clone, Default, Args)]
pub struct FieldArgs {
    /// Contact person, e.g. 张伟
    #[arg(long)]
    pub name: Option<String>,
    /// Company, e.g. 杭州云帆科技有限公司
    #[arg(long)]
    pub company: Option<String>,
    /// Phone (any format: +86 138-0013-8000, 13800138000, 0571-88886666)
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail
    #[arg(long)]
    pub email: Option<String>,
    /// City, e.g. 杭州
    #[arg(long)]
    pub city: Option<String>,
    /// Address
    #[arg(long)]
    pub address: Option<String>,
    /// Where the lead came from, e.g. 展会
    #[arg(long)]
    pub source: Option<String>,
    /// Tags, comma or 、 separated
    #[arg(long)]
    pub tags: Option<String>,
    /// Free notes
    #[arg(long)]
    pub notes: Option<String>,
    /// Customer level: A, B or C (recycle days may differ per level: pool rules set --for level=A)
    #[arg(long, value_name = "A|B|C")]
    pub level: Option<String>,
    /// Industry, e.g. 制造业
    #[arg(long)]
    pub industry: Option<String>,
    /// Set a custom field the customer's pool declares (repeatable), e.g. --set 行业=制造业;
    /// checked against its type (pool fields list)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl FieldArgs {
    pub fn input(&self) -> CustomerInput {
        CustomerInput {
            name: self.name.clone(),
            company: self.company.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            city: self.city.clone(),
            address: self.address.clone(),
            source: self.source.clone(),
            tags: self.tags.clone(),
            notes: self.notes.clone(),
        }
    }

    /// Level, industry and custom values as given, with the keys to remove.
    pub fn extras(&self, unset: &[String]) -> Result<Extras> {
        Ok(Extras {
            level: self.level.clone(),
            industry: self.industry.clone(),
            set: self
                .set
                .iter()
                .map(|s| crate::app::fields::split_set(s))
                .collect::<Result<_>>()?,
            unset: unset.to_vec(),
        })
    }
}

// The filters shared by `pool list` and `pool export`. Serialised (the ones given
// only) into the audit rows of unmasked reads and exports. (Not a doc comment: see
// FieldArgs.)
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct FilterArgs {
    /// Only customers in a pool (any pool, or the one named)
    #[arg(long, value_name = "POOL", num_args = 0..=1, default_missing_value = "")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_pool: Option<String>,
    /// Only my customers
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
    /// Only customers of this owner
    #[arg(long, value_name = "USER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Only customers owned by members of this team
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Only this stage
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<StageArg>,
    /// Only customers with this tag
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Only this city
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Only this source
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Only this level: A, B or C
    #[arg(long, value_name = "A|B|C")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Only this industry
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// A custom field condition (repeatable, all must hold): KEY=VALUE, KEY!=VALUE
    /// (also matches customers without it), KEY>N, KEY>=N, KEY<N, KEY<=N (number and date
    /// fields), KEY~TEXT (text contains). Values are checked against the declared type
    /// (pool fields list). Reads every customer the other filters leave: combine with an
    /// indexed filter (--in-pool, --mine, --level, --industry, --city) on big pools
    #[arg(long = "where", value_name = "KEY=VALUE")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wheres: Vec<String>,
    /// Text in name or company, or in phone or e-mail where you see them unmasked;
    /// elsewhere only a whole phone number or e-mail address matches
    #[arg(long, value_name = "TEXT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Not contacted for at least N days
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_contact_days: Option<u32>,
}

/// The filter arguments as the app's query (names; the app resolves them for the actor).
pub fn filter(a: &FilterArgs) -> Result<Query> {
    Ok(Query {
        in_pool: a.in_pool.clone(),
        mine: a.mine,
        owner: a.owner.clone(),
        team: a.team.clone(),
        stage: a.stage.map(Stage::from),
        tag: a.tag.clone(),
        city: a.city.clone(),
        source: a.source.clone(),
        level: a.level.clone(),
        industry: a.industry.clone(),
        wheres: a.wheres.clone(),
        search: a.search.clone(),
        no_contact_days: a.no_contact_days,
        given: serde_json::to_value(a)?,
    })
}
