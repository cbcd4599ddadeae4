//! Key rows of an import: each row checked as a `PUT` checks a key, then each owner's keys
//! appended to its list as one list, checked for shared positions and its size.

use std::collections::HashSet;

use super::Run;
use crate::domain::keys::{self, KeyOwner, KeyRules};
use crate::domain::{Key, Mac};
use crate::service::keys::{device_accounts, target_error, user_accounts};
use crate::sheet::keys::{key_draft, key_problem};
use crate::sheet::{Column, Row};
use crate::store::keys::{self as stored, KeyChange};
use crate::store::{StoreError, StoreResult, devices, users};

/// Key rows read and checked, waiting to be written: each owner with its keys and their rows.
#[derive(Debug, Default)]
pub(super) struct Pending {
    lists: Vec<(KeyOwner, Vec<(u64, Key)>)>,
    /// Extensions of the tenant once every user row is in: what BLF and pickup keys may watch.
    known: Option<HashSet<String>>,
}

impl Pending {
    fn push(&mut self, owner: KeyOwner, row: u64, key: Key) {
        match self.lists.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, list)) => list.push((row, key)),
            None => self.lists.push((owner, vec![(row, key)])),
        }
    }
}

impl Run<'_> {
    /// `before`: the number of problems before this row, to tell whether it has any.
    pub(super) fn key_row(&mut self, row: &Row, before: usize) -> StoreResult<()> {
        let n = row.number;
        let draft = key_draft(row, &mut self.problems);
        let Some((owner, accounts)) = self.key_owner(row)? else {
            return Ok(());
        };
        let key = match draft.check(&KeyRules { accounts }) {
            Ok(key) => key,
            Err(e) => {
                self.problems.push(key_problem(n, e));
                return Ok(());
            }
        };
        if self.keys.known.is_none() {
            self.keys.known = Some(users::extensions(self.tx, self.tenant.id)?);
        }
        let known = self.keys.known.as_ref().expect("just filled");
        if let Some(err) = target_error(&key, known, &self.tenant.name) {
            self.problems.push(key_problem(n, err));
        } else if self.problems.len() == before {
            self.keys.push(owner, n, key);
        }
        Ok(())
    }

    /// The owner of a key row and its plan's accounts: the device with the row's MAC, else the
    /// user with its extension. `None` with the problem reported, or when the owner's own row
    /// has problems (reported there).
    fn key_owner(&mut self, row: &Row) -> StoreResult<Option<(KeyOwner, usize)>> {
        let Some(text) = row.cells.get(Column::Mac) else {
            let Some(user) = self.owner(row)? else {
                return Ok(None);
            };
            let accounts = user_accounts(self.tx, user.id)?;
            return Ok(Some((
                KeyOwner::User(user.spec.extension.to_string()),
                accounts,
            )));
        };
        if row.cells.get(Column::Extension).is_some() {
            self.problem(
                row.number,
                Column::Extension,
                "key_owner_ambiguous",
                "a key row names its user by extension or its device by mac, not both".into(),
            );
            return Ok(None);
        }
        let mac = match Mac::parse(text) {
            Ok(mac) => mac,
            Err(e) => {
                self.problem(row.number, Column::Mac, e.code, e.message);
                return Ok(None);
            }
        };
        let device = match devices::by_mac(self.tx, &mac) {
            Ok(d) if d.tenant_id == self.tenant.id => d,
            Ok(_) | Err(StoreError::NotFound(_)) => {
                // A device row of this file with problems has been reported already.
                if !self.mac_rows.contains_key(&mac.lower12()) {
                    let message = format!(
                        "{} has no device {mac}, in the database or in this file",
                        self.tenant.name
                    );
                    self.problem(row.number, Column::Mac, "device_unknown", message);
                }
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let capacity = self
            .vendors
            .get(&device.vendor)
            .map_or(1, |v| v.capacity(device.effective_model()));
        let accounts = device_accounts(self.tx, capacity, device.user_id)?;
        Ok(Some((KeyOwner::Device(mac), accounts)))
    }

    /// Appends each owner's key rows to its stored list, one audit entry per list; a list
    /// that grows too long or gets two keys on one position reports the row that broke it.
    pub(super) fn write_keys(&mut self) -> StoreResult<()> {
        for (owner, rows) in std::mem::take(&mut self.keys.lists) {
            let current = match &owner {
                KeyOwner::User(ext) => stored::for_user(
                    self.tx,
                    users::by_extension(self.tx, self.tenant.id, ext)?.id,
                )?,
                KeyOwner::Device(mac) => {
                    stored::for_device(self.tx, devices::by_mac(self.tx, mac)?.id)?
                }
            };
            let existing = current.len();
            let mut list = current;
            list.extend(rows.iter().map(|(_, k)| k.clone()));
            let row_of = |i: usize| rows[i.saturating_sub(existing).min(rows.len() - 1)].0;
            let broken = keys::check_count(list.len())
                .map_err(|e| {
                    (
                        rows[keys::MAX_KEYS.saturating_sub(existing).min(rows.len() - 1)].0,
                        e,
                    )
                })
                .and_then(|()| keys::check_positions(&list).map_err(|(i, e)| (row_of(i), e)));
            if let Err((row, err)) = broken {
                self.problems.push(key_problem(row, err));
                continue;
            }
            self.store_list(&owner, &list)?;
            self.counts[3] += rows.len();
        }
        Ok(())
    }

    fn store_list(&mut self, owner: &KeyOwner, list: &[Key]) -> StoreResult<()> {
        let change = KeyChange {
            actor: self.actor,
            action: "import",
            tenant_id: self.tenant.id,
        };
        match owner {
            KeyOwner::User(ext) => {
                let user = users::by_extension(self.tx, self.tenant.id, ext)?;
                stored::set_for_user(self.tx, change, &user, list)
            }
            KeyOwner::Device(mac) => {
                let device = devices::by_mac(self.tx, mac)?;
                stored::set_for_device(self.tx, change, &device, list)
            }
        }
    }
}
