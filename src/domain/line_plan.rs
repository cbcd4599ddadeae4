//! The line plan: which SIP account goes on which line key of a phone.
//!
//! Line 1 is the owner's own account; lines 2…C are the owner's aliases in the admin's order.
//! Aliases beyond the model's capacity C are overflow: reported, never silently dropped.

use serde::Serialize;

use super::SipPassword;

/// Whether a line carries the owner's account or one of their aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// The owning user's own account.
    User,
    /// A SIP alias (sub-user) of the owner.
    Alias,
}

/// One SIP account as it lands on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccount {
    /// User or alias.
    pub kind: AccountKind,
    /// Alias id, for aliases.
    pub alias_id: Option<i64>,
    /// The name shown on the phone.
    pub name: String,
    /// SIP username (also the auth user).
    pub sip_username: String,
    /// SIP password.
    pub password: SipPassword,
}

/// An account placed on a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    /// Line number, from 1.
    pub line: usize,
    /// The account on it.
    pub account: SipAccount,
}

/// The accounts of one device by line, and the aliases that did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePlan {
    /// Lines the model has (at least 1).
    pub capacity: usize,
    /// Occupied lines, line 1 first.
    pub lines: Vec<PlannedLine>,
    /// Aliases beyond the capacity, in order.
    pub overflow: Vec<SipAccount>,
}

impl LinePlan {
    /// Plans `owner` and their `aliases` (already in the admin's order) onto `capacity` lines.
    pub fn build(owner: SipAccount, aliases: Vec<SipAccount>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut accounts = std::iter::once(owner).chain(aliases);
        let lines: Vec<PlannedLine> = accounts
            .by_ref()
            .take(capacity)
            .enumerate()
            .map(|(i, account)| PlannedLine {
                line: i + 1,
                account,
            })
            .collect();
        Self {
            capacity,
            lines,
            overflow: accounts.collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(kind: AccountKind, name: &str) -> SipAccount {
        SipAccount {
            kind,
            alias_id: None,
            name: name.into(),
            sip_username: format!("t_{}", name.to_lowercase().replace(' ', "")),
            password: SipPassword::from_trusted("x".into()),
        }
    }

    fn names(plan: &LinePlan) -> Vec<(usize, &str)> {
        plan.lines
            .iter()
            .map(|l| (l.line, l.account.name.as_str()))
            .collect()
    }

    #[test]
    fn owner_first_then_aliases_in_order() {
        let aliases = vec![
            account(AccountKind::Alias, "John Support"),
            account(AccountKind::Alias, "John Sales"),
        ];
        let plan = LinePlan::build(account(AccountKind::User, "John Smith"), aliases, 16);
        assert_eq!(
            names(&plan),
            [(1, "John Smith"), (2, "John Support"), (3, "John Sales")]
        );
        assert_eq!(plan.lines[0].account.kind, AccountKind::User);
        assert!(plan.overflow.is_empty());
    }

    #[test]
    fn reordering_aliases_reorders_lines() {
        let aliases = vec![
            account(AccountKind::Alias, "John Sales"),
            account(AccountKind::Alias, "John Support"),
        ];
        let plan = LinePlan::build(account(AccountKind::User, "John Smith"), aliases, 3);
        assert_eq!(
            names(&plan),
            [(1, "John Smith"), (2, "John Sales"), (3, "John Support")]
        );
    }

    #[test]
    fn aliases_beyond_capacity_are_overflow_in_order() {
        let aliases = (1..=4)
            .map(|i| account(AccountKind::Alias, &format!("Alias {i}")))
            .collect();
        let plan = LinePlan::build(account(AccountKind::User, "Owner"), aliases, 2);
        assert_eq!(names(&plan), [(1, "Owner"), (2, "Alias 1")]);
        let overflow: Vec<&str> = plan.overflow.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(overflow, ["Alias 2", "Alias 3", "Alias 4"]);
    }

    #[test]
    fn a_one_line_phone_shows_only_the_owner_and_zero_means_one() {
        let aliases = vec![account(AccountKind::Alias, "A")];
        let plan = LinePlan::build(account(AccountKind::User, "Owner"), aliases.clone(), 1);
        assert_eq!(names(&plan), [(1, "Owner")]);
        assert_eq!(plan.overflow.len(), 1);
        let plan = LinePlan::build(account(AccountKind::User, "Owner"), aliases, 0);
        assert_eq!(plan.capacity, 1);
    }
}
