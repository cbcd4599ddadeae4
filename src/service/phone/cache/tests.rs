use super::*;
use crate::domain::audit::Actor;
use crate::domain::device::DeviceDraft;
use crate::domain::tenant::{SiteDraft, TenantDraft};
use crate::domain::user::UserDraft;
use crate::profile::Vendors;
use crate::service::{Services, devices as device_service, tenants as tenant_service, users};

/// Ann (101, at site HQ), Bob (102) and Cyd (103, whose keys watch Bob) of a.example, Dee (101)
/// of b.example; one phone each.
const PHONES: [(&str, &str, &str); 4] = [
    ("a.example", "101", "001565000001"),
    ("a.example", "102", "001565000002"),
    ("a.example", "103", "001565000003"),
    ("b.example", "101", "001565000004"),
];

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    cache: PhoneCache,
    /// Device row ids, in [`PHONES`] order.
    ids: Vec<i64>,
    /// Tenant row ids of a.example and b.example.
    tenants: [i64; 2],
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
    let services = Services::new(store.clone(), Arc::new(Vendors::builtin().unwrap()), None);
    let actor = Actor::new("test");
    let mut tenants = [0; 2];
    for (i, name) in ["a.example", "b.example"].into_iter().enumerate() {
        let draft = TenantDraft {
            name: Some(name.into()),
            sip_server: Some(format!("pbx.{name}")),
            ..Default::default()
        };
        tenants[i] = tenant_service::create_tenant(&services, &actor, draft)
            .await
            .unwrap()
            .0
            .id;
    }
    let site = SiteDraft {
        name: Some("HQ".into()),
        ..Default::default()
    };
    tenant_service::create_site(&services, &actor, "a.example".into(), site)
        .await
        .unwrap();
    let people = [
        ("a.example", "101", "Ann", Some("HQ")),
        ("a.example", "102", "Bob", None),
        ("a.example", "103", "Cyd", None),
        ("b.example", "101", "Dee", None),
    ];
    for (tenant, extension, name, site) in people {
        let draft = UserDraft {
            name: Some(name.into()),
            extension: Some(extension.into()),
            site: site.map(|s| Some(s.into())),
            ..Default::default()
        };
        users::create(&services, &actor, tenant.into(), draft)
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for (tenant, extension, mac) in PHONES {
        let draft = DeviceDraft {
            mac: Some(mac.into()),
            tenant: Some(tenant.into()),
            extension: Some(extension.into()),
            vendor: Some("yealink".into()),
            ..Default::default()
        };
        let bundle = device_service::register(&services, &actor, draft)
            .await
            .unwrap();
        ids.push(bundle.device.id);
    }
    write(
        &store,
        "INSERT INTO user_keys (user_id, ord, type, value)
             SELECT id, 0, 'blf', '102' FROM users WHERE name = 'Cyd'",
    )
    .await;
    let cache = PhoneCache::new(store.clone(), DEFAULT_BUDGET);
    Fixture {
        _dir: dir,
        store,
        cache,
        ids,
        tenants,
    }
}

async fn write(store: &Store, sql: &str) {
    let sql = sql.to_owned();
    store
        .write(move |tx| Ok(tx.execute_batch(&sql)?))
        .await
        .unwrap();
}

fn rendered(body: &str) -> Arc<Rendered> {
    Arc::new(Rendered {
        body: body.to_owned(),
        content_type: "text/plain".into(),
        etag: format!("\"{body}\""),
        has_secrets: false,
    })
}

fn file_key(device_id: Option<i64>, tenant_id: Option<i64>) -> FileKey {
    FileKey {
        device_id,
        tenant_id,
        file: 1,
        model: None,
        server_url: "http://prov.test".into(),
    }
}

impl Fixture {
    /// Brings the cache to the store's generation and loads every phone, a file for each, and
    /// common files without a tenant and with each tenant's settings.
    async fn fill(&self) -> u64 {
        let g = self.cache.generation().await;
        for (_, _, mac) in PHONES {
            let mac = Mac::parse(mac).unwrap();
            self.cache.bundle(g, mac).await.unwrap().unwrap();
            let subject = self.cache.device(g, mac).await.unwrap().unwrap();
            let key = file_key(Some(subject.device.id), None);
            let body = rendered(&mac.lower12());
            self.cache.keep_device_file(g, &subject.device, &key, &body);
            let kept = self.cache.device_file(g, &subject.device, &key).unwrap();
            assert_eq!(
                (&*kept.body, &*kept.etag),
                (body.body.as_bytes(), &*body.etag)
            );
        }
        for tenant in [None, Some(self.tenants[0]), Some(self.tenants[1])] {
            self.cache
                .keep_file(g, file_key(None, tenant), None, rendered("common"));
        }
        assert_eq!(self.cache.held().len(), 15);
        g
    }

    /// What is still held after `sql` (journaled by the triggers) and the next request's
    /// catch-up, with the devices and files named as in [`PHONES`] (`1`…`4`).
    async fn after(&self, sql: &str) -> Vec<String> {
        self.fill().await;
        let before = self.store.generation();
        write(&self.store, sql).await;
        assert!(self.store.generation() > before, "{sql} is journaled");
        self.cache.generation().await;
        self.named()
    }

    fn named(&self) -> Vec<String> {
        let mut held: Vec<String> = self
            .cache
            .held()
            .into_iter()
            .map(|entry| {
                let mut entry = entry;
                for (n, (_, _, mac)) in PHONES.iter().enumerate() {
                    entry = entry.replace(mac, &(n + 1).to_string());
                }
                for (n, id) in self.ids.iter().enumerate() {
                    entry = entry.replace(&format!("file:{id}"), &format!("file:{}", n + 1));
                }
                let [a, b] = self.tenants;
                entry
                    .replace(&format!("common:{a}"), "common:a")
                    .replace(&format!("common:{b}"), "common:b")
            })
            .collect();
        held.sort();
        held
    }
}

/// Everything [`Fixture::fill`] keeps, except the `dropped` entries.
fn all_but(dropped: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = (1..=4)
        .flat_map(|n| {
            [
                format!("device:{n}"),
                format!("known:{n}"),
                format!("file:{n}"),
            ]
        })
        .chain(["common:-", "common:a", "common:b"].map(String::from))
        .filter(|e| !dropped.contains(&e.as_str()))
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn a_user_change_drops_that_users_devices_only() {
    let f = fixture().await;
    assert_eq!(
        f.after("UPDATE users SET sip_password = 'changed' WHERE name = 'Ann'")
            .await,
        all_but(&["device:1", "known:1", "file:1"])
    );
    assert_eq!(
        f.after(
            "INSERT INTO aliases (user_id, position, name, sip_username, sip_password, created_at)
                 SELECT id, 0, 'Sales', 'sales', 'pw', 'x' FROM users WHERE name = 'Dee'"
        )
        .await,
        all_but(&["device:4", "known:4", "file:4"])
    );
}

#[tokio::test]
async fn renaming_a_user_drops_the_phones_whose_keys_show_its_name() {
    let f = fixture().await;
    assert_eq!(
        f.after("UPDATE users SET name = 'Robert' WHERE name = 'Bob'")
            .await,
        all_but(&[
            "device:2", "known:2", "file:2", "device:3", "known:3", "file:3"
        ])
    );
}

#[tokio::test]
async fn a_tenant_change_drops_its_devices_and_common_files_only() {
    let f = fixture().await;
    let b = f.tenants[1];
    assert_eq!(
        f.after(&format!(
            "UPDATE tenants SET settings = json_set(settings, '$.ntp_server', 'ntp.b') WHERE id = {b}"
        ))
        .await,
        all_but(&["device:4", "known:4", "file:4", "common:b"])
    );
}

#[tokio::test]
async fn a_site_change_drops_the_devices_at_it_only() {
    let f = fixture().await;
    assert_eq!(
        f.after("UPDATE sites SET settings = json_set(settings, '$.ntp_server', 'ntp.hq')")
            .await,
        all_but(&["device:1", "known:1", "file:1"])
    );
}

#[tokio::test]
async fn a_device_change_drops_that_device_only() {
    let f = fixture().await;
    let id = f.ids[2];
    assert_eq!(
        f.after(&format!(
            "INSERT INTO device_uploads (device_id, file, body, received_at) VALUES ({id}, 'x.cfg', x'00', 'x')"
        ))
        .await,
        all_but(&["device:3", "known:3", "file:3"])
    );
}

#[tokio::test]
async fn a_file_outlives_its_device_entry_and_still_goes_with_it() {
    let f = fixture().await;
    f.fill().await;
    // The budget pushed the device's bundle out, its file stayed.
    let mac = Mac::parse(PHONES[0].2).unwrap();
    {
        let mut state = f.cache.state();
        state.devices.remove(&mac);
        state.bytes -= DEVICE_COST;
        state.order.retain(|k| k != &Key::Device(mac));
    }
    write(
        &f.store,
        "UPDATE users SET email = 'ann@a.example' WHERE name = 'Ann'",
    )
    .await;
    f.cache.generation().await;
    assert_eq!(f.named(), all_but(&["device:1", "known:1", "file:1"]));
}

#[tokio::test]
async fn a_write_that_journals_nothing_keeps_everything_and_all_drops_everything() {
    let f = fixture().await;
    let g = f.fill().await;
    write(
        &f.store,
        "INSERT INTO audit (at, actor, action, entity, entity_key) VALUES ('x', 'a', 'b', 'c', 'd');
         UPDATE devices SET last_fetch_at = 'y', last_ip = '192.0.2.1'",
    )
    .await;
    assert_eq!(f.cache.generation().await, g);
    assert_eq!(f.named(), all_but(&[]));
    write(
        &f.store,
        "INSERT INTO changes (scope, id) VALUES ('all', 0)",
    )
    .await;
    f.cache.generation().await;
    assert!(f.named().is_empty());
}

#[tokio::test]
async fn catching_up_applies_every_row_since_the_cache_and_older_requests_keep_nothing() {
    let f = fixture().await;
    let g0 = f.fill().await;
    write(
        &f.store,
        "UPDATE users SET email = 'a@x' WHERE name = 'Ann'",
    )
    .await;
    let g1 = f.store.generation();
    write(
        &f.store,
        "UPDATE users SET email = 'd@x' WHERE name = 'Dee'",
    )
    .await;
    let g2 = f.store.generation();
    assert!(g0 < g1 && g1 < g2);
    // A request at g2 comes first: both rows apply.
    f.cache.catch_up(g2).await;
    assert_eq!(
        f.named(),
        all_but(&[
            "device:1", "known:1", "file:1", "device:4", "known:4", "file:4"
        ])
    );
    // One that started at g1 finds the cache ahead of it: nothing served, nothing kept.
    f.cache.catch_up(g1).await;
    let key = file_key(Some(f.ids[0]), None);
    assert!(f.cache.file(g1, &key).is_none());
    f.cache.keep_file(g1, key.clone(), None, rendered("old"));
    let mac = Mac::parse(PHONES[0].2).unwrap();
    f.cache.bundle(g1, mac).await.unwrap().unwrap();
    let subject = f.cache.device(g1, mac).await.unwrap().unwrap();
    assert!(f.cache.device_file(g1, &subject.device, &key).is_none());
    f.cache
        .keep_device_file(g1, &subject.device, &key, &rendered("old"));
    assert_eq!(
        f.named(),
        all_but(&[
            "device:1", "known:1", "file:1", "device:4", "known:4", "file:4"
        ])
    );
    // Many requests catching up at once: one reads the journal, all end up current.
    write(
        &f.store,
        "UPDATE users SET email = 'b@x' WHERE name = 'Bob'",
    )
    .await;
    let g3 = f.store.generation();
    let cache = Arc::new(f.cache);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.catch_up(g3).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(cache.state().generation, g3);
    assert!(!cache.held().iter().any(|e| e == "device:001565000002"));
}

#[tokio::test]
async fn hits_and_renders_are_counted() {
    let f = fixture().await;
    let g = f.fill().await;
    // Each phone's file was read back once.
    assert_eq!((f.cache.hits(), f.cache.renders()), (4, 7));
    assert!(f.cache.file(g, &file_key(None, None)).is_some());
    assert!(f.cache.file(g, &file_key(Some(-1), None)).is_none());
    assert_eq!((f.cache.hits(), f.cache.renders()), (5, 7));
}
