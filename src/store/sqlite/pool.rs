//! Legacy path: pools, rules, ownership and recycling now each have their own file;
//! this module names them together for code written against the old one.
pub use super::ownership::*;
pub use super::pools::*;
pub use super::recycle::*;
pub use super::rules::*;
