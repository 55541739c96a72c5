//! Integration tests: every test runs the real `pool` binary in a fresh temp folder.
mod common;

mod audit;
mod concurrency;
mod crash;

mod customers;
mod dedupe;
mod foundation;
mod hostile;
mod hostile_input;
mod identity;
mod import;
mod pool;
mod protect;
mod readme;
mod reports;
mod safety;
mod work;

mod pg_server;
