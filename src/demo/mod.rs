//! Demo data (`pool demo`, the benchmarks): a made-up company's people and customers.
//! Not a rule of the pool, so it lives apart from `domain`; only the demo command, its
//! loader in the store and the bench use it.
pub mod generate;
pub mod plan;

pub use generate::{generate, DemoCustomer};

use crate::domain::roles::Role;

/// Sales, support and marketing people of the demo company: (login, display, team, role).
pub const PEOPLE: &[(&str, &str, &str, Role)] = &[
    ("zhaomin", "赵敏", "sales-east", Role::Manager),
    ("lihua", "李华", "sales-east", Role::Member),
    ("wangfang", "王芳", "sales-east", Role::Member),
    ("chenjie", "陈杰", "sales-east", Role::Member),
    ("liuyang", "刘洋", "sales-east", Role::Member),
    ("qianlei", "钱磊", "sales-north", Role::Manager),
    ("zhouxin", "周欣", "sales-north", Role::Member),
    ("wuhao", "吴昊", "sales-north", Role::Member),
    ("xuli", "徐丽", "sales-north", Role::Member),
    ("emily", "Emily Carter", "sales-north", Role::Member),
    ("hejun", "何军", "support", Role::Member),
    ("gaoyan", "高燕", "support", Role::Member),
    ("mating", "马婷", "marketing", Role::Member),
    ("linfeng", "林峰", "marketing", Role::Viewer),
];

pub const SUMMARIES: &[&str] = &[
    "电话沟通，客户对报价感兴趣",
    "发送了产品资料和报价单",
    "上门拜访，见到采购负责人",
    "微信跟进，约下周演示",
    "客户说预算要等下季度",
    "Called, asked for a demo next week",
    "Sent the proposal by e-mail",
    "线上会议，讨论实施方案",
];
pub const KINDS: &[&str] = &["call", "email", "meeting", "visit", "wechat", "note"];
pub const ACTIONS: &[&str] = &[
    "发合同",
    "回访",
    "发送报价",
    "安排演示",
    "确认需求",
    "Send contract",
];
pub const PRODUCTS: &[&str] = &["标准版", "专业版", "企业版", "Support plan"];

#[derive(Debug, Default, serde::Serialize)]
pub struct DemoSummary {
    pub customers: u64,
    pub pooled: u64,
    pub owned: u64,
    pub interactions: u64,
    pub followups: u64,
    pub deals: u64,
    pub users: u64,
    pub skipped_invalid: u64,
}
