//! Integration tests: every test runs the real `pool` binary in a fresh temp folder.
//! One module per command or command group; `concurrency` races real processes.
#[macro_use]
mod common;

mod agenda;
mod allocate;
mod assign;
mod audit;
mod automation;
mod backup;
mod claim;
mod concurrency;
mod contacts;
mod customer_add;
mod customer_delete;
mod customer_edit;
mod customer_list;
mod customer_show;
mod database;
mod deal;
mod dedupe;
mod demo;
mod doctor;
mod export;
mod fields;
mod followup;
mod help;
mod identity;
mod import;
mod init;
mod lock;
mod log;
mod merge;
mod notify;
mod output;
mod pools;
mod readme;
mod recycle;
mod release;
mod report;
mod restore;
mod revenue;
mod roles;
mod rules;
mod tags;
mod timezone;
mod user;
mod work_follows;

// Server mode: runs when POOL_TEST_PG is set (bash .ci/test sets it).
mod pg_audit_defer;
mod pg_automation;
mod pg_backend;
mod pg_claim_cost;
mod pg_cli;
mod pg_contacts;
mod pg_fields;
mod pg_gaps;
mod pg_import;
mod pg_pooler;
mod pg_report_counts;
mod pg_report_work;
mod pg_server;
mod pg_tls;
