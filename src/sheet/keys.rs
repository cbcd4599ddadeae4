//! Key rows of the sheet: one programmable key each, of the user with the row's extension or
//! of the device with the row's MAC, in list order.

use super::drafts::parse_yes_no;
use super::format::{Cells, Column, Problem, Row, RowKind};
use crate::domain::keys::KeyOwner;
use crate::domain::{Key, KeyDraft, RuleError};

/// The key draft of a row; a position, module or external cell that cannot be read is
/// reported and left out.
pub fn key_draft(row: &Row, problems: &mut Vec<Problem>) -> KeyDraft {
    let cell = |c| row.cells.get(c).map(str::to_owned);
    let mut number = |column: Column| {
        let text = row.cells.get(column)?;
        let parsed = text.parse::<i64>().ok();
        if parsed.is_none() {
            problems.push(Problem::at(
                row.number,
                column,
                "number_invalid",
                format!("{} is a whole number from 1", column.name()),
            ));
        }
        parsed
    };
    let position = number(Column::KeyPosition);
    let module = number(Column::KeyModule);
    let external = match row.cells.get(Column::KeyExternal).map(parse_yes_no) {
        None => false,
        Some(Some(flag)) => flag,
        Some(None) => {
            problems.push(Problem::at(
                row.number,
                Column::KeyExternal,
                "boolean_invalid",
                "key_external is yes or no (or true/false, 1/0)",
            ));
            false
        }
    };
    KeyDraft {
        kind: cell(Column::KeyType).unwrap_or_default(),
        value: cell(Column::KeyValue),
        label: cell(Column::Label),
        position,
        module,
        external,
    }
}

/// A broken key rule (its field bare: `value`, `position`, …) as a problem of `row`, in the
/// column that field is written in.
pub fn key_problem(row: u64, err: RuleError) -> Problem {
    let column = match err.field.as_str() {
        "type" => Column::KeyType,
        "value" => Column::KeyValue,
        "label" => Column::Label,
        "position" => Column::KeyPosition,
        "module" => Column::KeyModule,
        "external" => Column::KeyExternal,
        // List rules (`keys`): the key's own type names the row best.
        _ => Column::KeyType,
    };
    Problem::at(row, column, err.code, err.message)
}

/// The row of `key` in `owner`'s list.
pub fn key_cells(owner: &KeyOwner, key: &Key) -> Cells {
    let mut cells = Cells::new();
    cells.set(Column::Type, RowKind::Key.name());
    match owner {
        KeyOwner::User(extension) => cells.set(Column::Extension, extension.as_str()),
        KeyOwner::Device(mac) => cells.set(Column::Mac, mac.lower12()),
    }
    cells.set(Column::KeyType, key.kind.as_str());
    cells.set(Column::KeyValue, key.value.as_str());
    if let Some(label) = &key.label {
        cells.set(Column::Label, label.as_str());
    }
    if let Some(slot) = key.slot {
        cells.set(Column::KeyPosition, slot.position.to_string());
        if let Some(module) = slot.module {
            cells.set(Column::KeyModule, module.to_string());
        }
    }
    if key.external {
        cells.set(Column::KeyExternal, "yes");
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::KeyRules;
    use crate::sheet::SheetWriter;
    use crate::sheet::format::parse;

    #[test]
    fn a_key_row_reads_back_as_the_key_it_was_written_from() {
        let draft: KeyDraft = serde_json::from_value(serde_json::json!({
            "type": "blf", "value": "sip:a@pbx.example", "external": true,
            "label": "A, \"B\"", "module": 2, "position": 7
        }))
        .unwrap();
        let key = draft.check(&KeyRules { accounts: 1 }).unwrap();
        let mut writer = SheetWriter::new();
        writer.row(&key_cells(&KeyOwner::User("101".into()), &key));
        let parsed = parse(writer.finish().as_bytes());
        let mut problems = Vec::new();
        assert_eq!(key_draft(&parsed.rows[0], &mut problems), draft);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn unreadable_numbers_and_flags_are_reported_in_their_column() {
        let parsed = parse(b"type,extension,key_type,key_value,key_position,key_external\nkey,101,park,7,x,maybe\n");
        let mut problems = Vec::new();
        let draft = key_draft(&parsed.rows[0], &mut problems);
        assert_eq!((draft.position, draft.external), (None, false));
        let got: Vec<(Option<&str>, &str)> = problems
            .iter()
            .map(|p| (p.column.as_deref(), p.code))
            .collect();
        assert_eq!(
            got,
            [
                (Some("key_position"), "number_invalid"),
                (Some("key_external"), "boolean_invalid")
            ]
        );
    }
}
