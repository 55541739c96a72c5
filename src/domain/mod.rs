//! Rules with no SQL and no printing: pure functions of data and `now`.
pub mod audit;
pub mod blocking;
pub mod charts;
pub mod columns;
pub mod corpus;
pub mod customer;
pub mod dates;
pub mod demo;
pub mod linkage;
pub mod mask;
pub mod matching;
pub mod merge;
pub mod money;
pub mod normalize;
pub mod ownership;
pub mod roles;
pub mod rules;
