//! The import sheet (`Sheet::open`, `Sheet::rows`, `parse`) and what the import reads from each
//! row (`sheet::drafts`, `sheet::keys`): what an admin uploads to `POST …/import`.

use deskprov::domain::keys::KeyRules;
use deskprov::domain::user::TenantRules;
use deskprov::domain::{ExtensionPlan, Mac};
use deskprov::sheet::{Column, Problem, Row, RowKind, Sheet, SheetWriter, drafts, keys, parse};
use unicode_normalization::UnicodeNormalization;

use crate::fixture::rng;

/// Reads `data` as a sheet and checks the rows, the problems and the drafts.
pub fn run(data: &[u8]) {
    let parsed = parse(data);
    let opened = Sheet::open(data);
    match &opened {
        Err(problems) => {
            assert!(parsed.rows.is_empty());
            assert_eq!(&parsed.problems, problems, "parse and Sheet::open disagree");
            assert!(!problems.is_empty(), "a refused header names no problem");
            for p in problems {
                assert_eq!(p.row, 1, "a header problem not on row 1: {p:?}");
                check_problem(p);
            }
        }
        Ok(sheet) => {
            // Rows can be read again, with the same result.
            let again: Vec<_> = sheet.rows().collect();
            assert_eq!(
                again.len(),
                parsed.rows.len() + error_items(&parsed.problems)
            );
            let records = sheet.records();
            let mut last = 1;
            for row in &parsed.rows {
                assert!(
                    row.number > last,
                    "rows out of order: {} after {last}",
                    row.number
                );
                assert!(
                    row.number <= records as u64 + 1,
                    "row {} of {records} records",
                    row.number
                );
                last = row.number;
                check_cells(row);
            }
            for p in &parsed.problems {
                assert!(p.row >= 2, "a row problem on the header: {p:?}");
                assert!(p.row <= records as u64 + 2, "{p:?} past the end");
                check_problem(p);
            }
            round_trip(&parsed.rows);
            for row in &parsed.rows {
                check_drafts(row);
            }
        }
    }
}

/// How many problem items the row iterator gave: a row's problems come as one item.
fn error_items(problems: &[Problem]) -> usize {
    let mut rows: Vec<u64> = problems.iter().map(|p| p.row).collect();
    rows.dedup();
    rows.len()
}

fn check_problem(p: &Problem) {
    assert!(!p.code.is_empty() && !p.message.is_empty(), "{p:?}");
}

/// A row has a value, and every cell but the password is trimmed.
fn check_cells(row: &Row) {
    assert!(
        row.cells.filled().next().is_some(),
        "blank row {}",
        row.number
    );
    for column in row.cells.filled() {
        let cell = row.cells.get(column).expect("a filled cell");
        if column != Column::SipPassword {
            assert_eq!(
                cell,
                cell.trim(),
                "row {}: {} untrimmed",
                row.number,
                column.name()
            );
        }
    }
}

/// The rows written as export writes them read back cell for cell, with no problem.
fn round_trip(rows: &[Row]) {
    let mut writer = SheetWriter::new();
    for row in rows {
        writer.row(&row.cells);
    }
    let text = writer.finish();
    let back = parse(text.as_bytes());
    assert!(back.problems.is_empty(), "{:?} in\n{text}", back.problems);
    assert_eq!(back.rows.len(), rows.len(), "rows lost in\n{text}");
    for (a, b) in rows.iter().zip(&back.rows) {
        assert_eq!(a.cells, b.cells, "row {} changed through\n{text}", a.number);
    }
}

/// What the import reads from a row: each problem is the row's, and what it accepts holds
/// to the domain's rules (printable names, parsed MACs).
fn check_drafts(row: &Row) {
    let mut problems = Vec::new();
    let plan = ExtensionPlan::default();
    let mut rng = rng();
    match RowKind::parse(row.cells.get(Column::Type)) {
        None => problems.push(drafts::type_problem(row.number)),
        Some(kind) => {
            drafts::not_applicable(row, kind, &mut problems);
            match kind {
                RowKind::User => {
                    let rules = TenantRules {
                        plan: &plan,
                        prefix: "fuzzexample_",
                    };
                    if let Some(user) = drafts::user_spec(row, rules, &mut rng, &mut problems) {
                        printable(user.name.as_str());
                        if let Some(department) = &user.department {
                            printable(department.as_str());
                        }
                    }
                }
                RowKind::Alias => {
                    if let Some(alias) =
                        drafts::alias_spec(row, "fuzzexample_", &mut rng, &mut problems)
                    {
                        printable(alias.name.as_str());
                    }
                }
                RowKind::Device => {
                    if let Some(device) = drafts::device_spec(row, "fuzz.example", &mut problems) {
                        let cell = row.cells.get(Column::Mac).expect("a device has a MAC");
                        assert_eq!(Mac::parse(cell.trim()).ok(), Some(device.mac));
                        if let Some(label) = &device.label {
                            printable(label.as_str());
                        }
                    }
                }
                RowKind::Key => {
                    let draft = keys::key_draft(row, &mut problems);
                    match draft.check(&KeyRules { accounts: 4 }) {
                        Ok(key) => {
                            if let Some(label) = &key.label {
                                printable(label.as_str());
                            }
                        }
                        Err(e) => problems.push(keys::key_problem(row.number, e)),
                    }
                }
            }
        }
    }
    for p in &problems {
        assert_eq!(
            p.row, row.number,
            "a problem of row {} on another: {p:?}",
            row.number
        );
        check_problem(p);
    }
}

/// Text the domain accepted as a name or label: NFC, trimmed, not empty, no control
/// characters or noncharacters.
fn printable(text: &str) {
    assert!(!text.trim().is_empty(), "{text:?}");
    assert_eq!(text, text.trim(), "{text:?}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(
        !text
            .chars()
            .map(u32::from)
            .any(|c| c & 0xFFFE == 0xFFFE || (0xFDD0..=0xFDEF).contains(&c)),
        "{text:?} holds a noncharacter"
    );
    assert_eq!(text.nfc().collect::<String>(), text, "{text:?} is not NFC");
}
