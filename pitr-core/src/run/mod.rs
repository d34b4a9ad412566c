//! Effects: running programs as the database superuser, logging, probing PostgreSQL, and
//! executing plans. Everything outside this module is pure.

pub mod check;
pub mod exec;
pub mod exporter;
pub mod facts;
pub mod files;
pub mod log;
pub mod pgbackrest;
pub mod probe;
pub mod runner;
pub mod tools;
pub mod user;
pub mod watch;
