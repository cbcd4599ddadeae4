//! The CSV sheet of a tenant's users, aliases, devices and keys: the edge format the bulk
//! import reads and the export writes (the use cases themselves are in the service layer's
//! `bulk` module).
//!
//! The sheet has one header and one row per user, alias, device or key ([`format`]); alias,
//! device and user key rows name their user by extension, device key rows their device by MAC
//! ([`keys`]). [`drafts`] reads a row into the same drafts the API takes, with every problem it
//! finds by row and column; [`records`] writes stored records back as rows. Nothing here
//! touches the store.

pub mod drafts;
pub mod format;
pub mod keys;
pub mod records;

pub use format::{Cells, Column, Parsed, Problem, Row, RowKind, Sheet, SheetWriter, parse};
