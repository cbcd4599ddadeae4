//! What a device's User-Agent says, read once, and the names kept devices share: a phone sends the same User-Agent with every
//! fetch, and reading one takes the vendors' patterns a microsecond or two. A kept device
//! remembers a keyed hash of its last User-Agent and what it said; the model and firmware are
//! shared by every device that says the same ([`UaParts`]), so a device pays 16 bytes.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::device::PhoneDevice;
use crate::profile::UaInfo;

/// Most different [`UaParts`] kept (models times firmware versions are few); past this, new
/// ones are read on every fetch.
const MAX_PARTS: usize = 4_096;

/// What a User-Agent that agrees with its device said: its vendor is the device's and the MAC
/// it names, if any, is the device's, so neither is kept.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct UaParts {
    model: Option<Box<str>>,
    firmware: Option<Box<str>>,
    names_mac: bool,
}

impl UaParts {
    /// What `info` says of `device`, when it agrees with it (a User-Agent that does not is
    /// refused, and read again each time it is sent).
    fn of(info: &UaInfo, device: &PhoneDevice) -> Option<Self> {
        let agrees = *info.vendor == *device.vendor
            && !info.bad_mac
            && info.mac.is_none_or(|m| m == device.mac);
        agrees.then(|| Self {
            model: info.model.as_deref().map(Box::from),
            firmware: info.firmware.as_deref().map(Box::from),
            names_mac: info.mac.is_some(),
        })
    }

    /// The reading of the User-Agent again, for `device`.
    fn info(&self, device: &PhoneDevice) -> UaInfo {
        UaInfo {
            vendor: device.vendor.to_string(),
            model: self.model.as_deref().map(str::to_owned),
            firmware: self.firmware.as_deref().map(str::to_owned),
            mac: self.names_mac.then_some(device.mac),
            bad_mac: false,
        }
    }
}

/// A device's last User-Agent: its hash (keyed per process) and what it said.
#[derive(Debug, Clone)]
pub(super) struct UaMemo {
    hash: u64,
    parts: Arc<UaParts>,
}

impl UaMemo {
    /// What the User-Agent with `hash` says of `device`, when it is the one remembered.
    pub(super) fn recall(&self, hash: u64, device: &PhoneDevice) -> Option<UaInfo> {
        (self.hash == hash).then(|| self.parts.info(device))
    }
}

/// Every [`UaParts`] some device remembers, each kept once.
#[derive(Debug, Default)]
pub(super) struct UaPartsKept(HashSet<Arc<UaParts>>);

impl UaPartsKept {
    /// A memo of the User-Agent with `hash` that `info` is the reading of, for `device`; `None`
    /// when it does not agree with the device or no more parts are kept.
    pub(super) fn memo(
        &mut self,
        hash: u64,
        info: &UaInfo,
        device: &PhoneDevice,
    ) -> Option<UaMemo> {
        let parts = UaParts::of(info, device)?;
        let parts = match self.0.get(&parts) {
            Some(kept) => kept.clone(),
            None if self.0.len() < MAX_PARTS => {
                let parts = Arc::new(parts);
                self.0.insert(parts.clone());
                parts
            }
            None => return None,
        };
        Some(UaMemo { hash, parts })
    }
}

/// Names many kept devices hold (vendors, models), each kept once.
#[derive(Debug, Default)]
pub(super) struct SharedNames(HashSet<Arc<str>>);

impl SharedNames {
    /// The copy of `name` kept for every device, kept now when it is new and there is room.
    pub(super) fn share(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some(kept) = self.0.get(name) {
            return kept.clone();
        }
        if self.0.len() < MAX_PARTS {
            self.0.insert(name.clone());
        }
        name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Mac;

    fn device(mac: &str) -> PhoneDevice {
        PhoneDevice {
            id: 1,
            mac: Mac::parse(mac).unwrap(),
            tenant_id: 1,
            owner_id: 1,
            sites: [None, None],
            vendor: Arc::from("yealink"),
            model: None,
            enroll_until: None,
            bound_cert: None,
            credentials: None,
        }
    }

    fn info(mac: Option<&str>) -> UaInfo {
        UaInfo {
            vendor: "yealink".into(),
            model: Some("T46U".into()),
            firmware: Some("108.86.0.45".into()),
            mac: mac.map(|m| Mac::parse(m).unwrap()),
            bad_mac: false,
        }
    }

    #[test]
    fn devices_saying_the_same_share_one_reading_each_with_its_own_mac() {
        let (a, b) = (device("805ec0000001"), device("805ec0000002"));
        let mut kept = UaPartsKept::default();
        let memo_a = kept.memo(1, &info(Some("805ec0000001")), &a).unwrap();
        let memo_b = kept.memo(2, &info(Some("805ec0000002")), &b).unwrap();
        assert!(Arc::ptr_eq(&memo_a.parts, &memo_b.parts));
        assert_eq!(memo_a.recall(1, &a), Some(info(Some("805ec0000001"))));
        assert_eq!(memo_b.recall(2, &b), Some(info(Some("805ec0000002"))));
        assert_eq!(
            memo_a.recall(2, &a),
            None,
            "another User-Agent is read again"
        );
    }

    #[test]
    fn a_name_is_shared_by_every_device_that_has_it() {
        let mut names = SharedNames::default();
        let first = names.share(&Arc::from("T46U"));
        let again = names.share(&Arc::from("T46U"));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*names.share(&Arc::from("T54W")), *"T54W");
    }

    #[test]
    fn a_user_agent_that_disagrees_with_its_device_is_not_remembered() {
        let a = device("805ec0000001");
        let mut kept = UaPartsKept::default();
        assert!(kept.memo(1, &info(Some("805ec0000009")), &a).is_none());
        let bad = UaInfo {
            bad_mac: true,
            ..info(None)
        };
        assert!(kept.memo(1, &bad, &a).is_none());
        let other = UaInfo {
            vendor: "snom".into(),
            ..info(None)
        };
        assert!(kept.memo(1, &other, &a).is_none());
        assert!(kept.memo(1, &info(None), &a).is_some());
    }
}
