//! Bulk import and export of a tenant's users, aliases and devices as one CSV sheet.
//!
//! The sheet has one header and one row per user, alias or device ([`sheet`]); alias and
//! device rows name their user by extension. Import parses each row through the same drafts
//! and store functions as the API, so there is no second copy of any rule ([`import`]);
//! export writes the same sheet back ([`export`]).

pub mod export;
pub mod import;
pub mod sheet;

pub use import::{ImportReport, ImportRequest, import};
pub use sheet::{Column, Problem};
