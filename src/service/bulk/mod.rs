//! Bulk import and export of a tenant's users, aliases and devices as one CSV sheet (the format
//! is [`crate::sheet`]). Import checks every row through the same drafts and store functions as
//! the API, so there is no second copy of any rule, and writes all rows or none; export writes
//! the same sheet back.

mod export;
mod import;

pub use export::export;
pub use import::{
    ImportReport, ImportRequest, MAX_IMPORT_ROWS, MAX_REPORTED_PROBLEMS, PROGRESS_EVERY, import,
};
