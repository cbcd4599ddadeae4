//! The CSV sheet of a tenant's users, aliases and devices: the edge format the bulk import reads
//! and the export writes (the use cases themselves are in the service layer's `bulk` module).
//!
//! The sheet has one header and one row per user, alias or device ([`format`]); alias and
//! device rows name their user by extension. [`drafts`] reads a row into the same drafts the
//! API takes, with every problem it finds by row and column; [`records`] writes stored records
//! back as rows. Nothing here touches the store.

pub mod drafts;
pub mod format;
pub mod records;

pub use format::{Cells, Column, Parsed, Problem, Row, RowKind, SheetWriter, parse};
