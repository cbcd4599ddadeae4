//! The models deskprov knows, as a table: accounts, line keys and expansion modules per model,
//! read from the vendor profiles (`deskprov models`, and the table in `docs/keys.md`).

use std::fmt::Write as _;

use super::Vendors;
use crate::domain::key_plan::Expansion;

/// One known model and what it has for keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRow {
    /// Vendor name (`Yealink`).
    pub vendor: String,
    /// Vendor profile id (`yealink`).
    pub vendor_id: String,
    /// Model name as the profile spells it (`T54W`).
    pub model: String,
    /// SIP accounts.
    pub accounts: usize,
    /// Programmable keys on the phone itself.
    pub line_keys: usize,
    /// Expansion modules it takes, if any.
    pub expansion: Option<Expansion>,
}

/// Every model of every profile, by vendor then model name; `vendor` keeps one profile only.
pub fn models(vendors: &Vendors, vendor: Option<&str>) -> Vec<ModelRow> {
    vendors
        .all()
        .iter()
        .filter(|v| vendor.is_none_or(|id| v.id() == id))
        .flat_map(|v| {
            v.profile.models.iter().map(|(name, m)| ModelRow {
                vendor: v.profile.name.clone(),
                vendor_id: v.id().to_owned(),
                model: name.clone(),
                accounts: m.accounts,
                line_keys: m.line_keys,
                expansion: m.expansion.clone(),
            })
        })
        .collect()
}

/// The expansion column: `EXP50: 60 keys × 3`, or `—`.
fn expansion_text(expansion: Option<&Expansion>) -> String {
    expansion.map_or_else(
        || "—".to_owned(),
        |e| format!("{}: {} keys × {}", e.kind, e.keys, e.max),
    )
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[ModelRow]) -> String {
    let mut out = String::from(
        "| vendor | model | accounts | line keys | expansion modules (kind: keys × most) |\n\
         |---|---|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.vendor,
            r.model,
            r.accounts,
            r.line_keys,
            expansion_text(r.expansion.as_ref())
        );
    }
    out
}

/// The rows as aligned plain text, for a terminal.
pub fn plain(rows: &[ModelRow]) -> String {
    let mut out = format!(
        "{:<12} {:<12} {:>8} {:>9}  {}\n",
        "VENDOR", "MODEL", "ACCOUNTS", "LINE KEYS", "EXPANSION"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<12} {:<12} {:>8} {:>9}  {}",
            r.vendor_id,
            r.model,
            r.accounts,
            r.line_keys,
            expansion_text(r.expansion.as_ref())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_once_with_its_modules() {
        let vendors = Vendors::builtin().unwrap();
        let rows = models(&vendors, None);
        let total: usize = vendors.all().iter().map(|v| v.profile.models.len()).sum();
        assert_eq!(rows.len(), total);
        let yealink = models(&vendors, Some("yealink"));
        assert!(yealink.iter().all(|r| r.vendor_id == "yealink"));
        let t54w = yealink.iter().find(|r| r.model == "T54W").unwrap();
        assert!(t54w.expansion.is_some());
        let table = markdown(&yealink);
        assert!(table.contains(&format!(
            "| Yealink | T54W | {} | {} | {} |",
            t54w.accounts,
            t54w.line_keys,
            expansion_text(t54w.expansion.as_ref())
        )));
        assert_eq!(table.lines().count(), yealink.len() + 2);
        assert!(
            plain(&yealink)
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("yealink")
        );
    }
}
