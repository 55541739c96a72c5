//! The one door: one function per use case. Each takes the store, the acting user, plain
//! input and `now`; opens the transaction; checks scope through [`scope`]; asks `domain`
//! to decide; writes the change and its audit row; commits; and returns a typed outcome.
//! No SQL, no driver type and no printing here.
pub mod pool;
pub mod scope;
