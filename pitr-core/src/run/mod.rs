//! Effects: running programs as the database superuser, logging, probing PostgreSQL, and
//! executing plans. Everything outside this module is pure.

pub mod exec;
pub mod probe;
pub mod tools;
pub mod log;
pub mod user;
