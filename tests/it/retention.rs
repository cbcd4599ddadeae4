//! Device events older than the retention are deleted in the background; newer ones stay.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use deskprov::config::Retention;
use deskprov::domain::history::{Event, HistoryScope};
use deskprov::store::Store;
use deskprov::store::history;

use crate::helpers::TestApp;

fn event(days_ago: i64, file: &str) -> Event {
    Event {
        at: Utc::now() - TimeDelta::days(days_ago),
        kind: "refused",
        tenant_id: None,
        mac: Some("001565aabbcc".into()),
        ip: "192.0.2.10".into(),
        user_agent: None,
        file: file.into(),
        status: 404,
        result: "unknown_device",
        detail: None,
    }
}

fn files(store: &Store) -> Vec<String> {
    let mut files: Vec<String> = store
        .read_blocking(|c| history::recent(c, HistoryScope::default(), 100))
        .unwrap()
        .into_iter()
        .map(|f| f.file)
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn events_older_than_the_retention_are_deleted_and_newer_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    {
        let store = Store::open(&db).unwrap();
        // Written in the order they were made, as the state writer does.
        let events = [
            event(400, "old-a.cfg"),
            event(31, "old-b.cfg"),
            event(29, "new-a.cfg"),
            event(0, "new-b.cfg"),
        ];
        store
            .write_blocking(|tx| history::append(tx, &events))
            .unwrap();
    }
    let app = TestApp::spawn_with(|c| {
        c.db.path = db.clone();
        c.fetch_retention = Retention(Some(Duration::from_secs(30 * 86_400)));
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while files(app.store()).len() > 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files(app.store()), ["new-a.cfg", "new-b.cfg"]);
}

#[tokio::test]
async fn deleting_old_events_takes_as_many_transactions_as_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
    let old: Vec<Event> = (0..25).map(|i| event(100, &format!("{i}.cfg"))).collect();
    let new = [event(1, "new.cfg")];
    store
        .write_blocking(|tx| {
            history::append(tx, &old)?;
            history::append(tx, &new)
        })
        .unwrap();
    let before = Utc::now() - TimeDelta::days(30);
    let mut chunks = Vec::new();
    loop {
        let n = store
            .write_blocking(|tx| history::prune(tx, before, 10))
            .unwrap();
        chunks.push(n);
        if n < 10 {
            break;
        }
    }
    assert_eq!(chunks, [10, 10, 5]);
    assert_eq!(files(&store), ["new.cfg"]);
}
