//! P8 and P9: what an admin does while phones fetch. P8 times the admin reads at the corpus's
//! size; P9 changes one user's name through the API of the running binary in the middle of a
//! P1 run, compares the phones' throughput in the second before the change with the second
//! after it, and fetches that user's phone's file at once to see whether it names the user anew.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::json;

use crate::Args;
use crate::admin::{self, Admin, Budget, Reads, Via, timed};
use crate::corpus::{self, Corpus, Phone};
use crate::figures::sample_indices;
use crate::load;
use crate::servers::{self, Server};

/// P8: `--admin-requests` sequential reads of each admin view.
pub fn p8(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    admin: &Admin,
    corpus: &Corpus,
) -> anyhow::Result<Vec<Reads>> {
    let n = Budget {
        reads: args.admin_requests,
        time: Duration::from_secs(args.admin_budget),
    };
    let macs: Vec<String> = sample_indices(corpus.phones.len(), n.reads, 808)
        .into_iter()
        .map(|i| corpus.phones[i].mac.clone())
        .collect();
    let tenant = corpus::tenant_name(0);
    let users = corpus.phones.len().div_ceil(corpus.tenants);
    let users_what =
        format!("a tenant's users page, `GET /ui/tenants/{{tenant}}/users` ({users} users)");
    let pick = |i: usize| macs[i % macs.len()].clone();
    runtime.block_on(async {
        Ok(vec![
            timed(admin, "dashboard, `GET /ui/`", Via::Page, n, |_| "/ui/".into()).await?,
            timed(admin, &users_what, Via::Page, n, |_| {
                format!("/ui/tenants/{tenant}/users")
            })
            .await?,
            timed(
                admin,
                "device list, the API's largest page from a random device, `GET /api/v1/devices?limit=1000&after={mac}`",
                Via::Api,
                n,
                |i| format!("/api/v1/devices?limit=1000&after={}", pick(i)),
            )
            .await?,
            timed(
                admin,
                "a random device's page, `GET /ui/devices/{mac}`",
                Via::Page,
                n,
                |i| format!("/ui/devices/{}", pick(i)),
            )
            .await?,
            timed(admin, "`GET /metrics`", Via::Plain, n, |_| "/metrics".into()).await?,
        ])
    })
}

/// One P9 round: the throughput around the change and what the probe saw.
#[derive(Debug, Clone)]
pub struct Changed {
    /// Right answers per second in the second before the PATCH was sent.
    pub before: f64,
    /// Right answers per second in the second after its answer came.
    pub after: f64,
    /// How long the PATCH took, ms.
    pub patch_ms: f64,
    /// Whether the phone's file fetched right after the PATCH named the user anew.
    pub seen: bool,
    /// The run's throughput over its measured part, and its errors.
    pub rate: f64,
    /// Errors of that run.
    pub errors: u64,
}

/// A device whose owner's name shows in its per-MAC file, and that owner.
pub struct Target {
    /// Its index in the corpus.
    pub index: usize,
    /// Its owner, as the corpus made them.
    pub owner: corpus::Owner,
}

/// `rounds` devices (one per P9 round) whose per-MAC file, as deskprov serves it now, carries
/// their owner's name: the devices P9 renames the owners of.
pub fn targets(corpus: &Corpus, deskprov: &Server, rounds: usize) -> anyhow::Result<Vec<Target>> {
    let mut found = Vec::new();
    for index in sample_indices(corpus.phones.len(), 200.min(corpus.phones.len()), 909) {
        let phone = &corpus.phones[index];
        let owner = corpus::owner(index, corpus.tenants);
        let (status, body) = servers::get(deskprov.http, &phone.main_file().name, &phone.ua)?;
        if status == 200 && String::from_utf8_lossy(&body).contains(&owner.name) {
            found.push(Target { index, owner });
            if found.len() == rounds {
                return Ok(found);
            }
        }
    }
    anyhow::bail!(
        "no phone's per-MAC file names its owner ({} found)",
        found.len()
    )
}

/// P9: one renamed user per round, each during a P1 run over every phone but the renamed ones.
pub fn p9(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    deskprov: &Server,
    admin: &Admin,
    corpus: &Corpus,
    targets: &[Target],
) -> anyhow::Result<Vec<Changed>> {
    let phones = Arc::new(others(&corpus.phones, targets));
    let mut rounds = Vec::new();
    for (round, target) in targets.iter().enumerate() {
        let phone = &corpus.phones[target.index];
        let changed = runtime.block_on(change_once(
            args,
            deskprov,
            admin,
            phones.clone(),
            phone,
            target,
        ))?;
        eprintln!(
            "P9 round {}: {:.0} req/s in the second before the change, {:.0} after ({:.2}), PATCH {:.1} ms, new name seen: {}, run {:.0} req/s, {} errors",
            round + 1,
            changed.before,
            changed.after,
            changed.after / changed.before,
            changed.patch_ms,
            if changed.seen { "yes" } else { "no" },
            changed.rate,
            changed.errors,
        );
        deskprov.settle();
        rounds.push(changed);
    }
    Ok(rounds)
}

/// Every phone but the targets' (their files change, the load generator checks lengths).
pub fn others(phones: &[Phone], targets: &[Target]) -> Vec<Phone> {
    phones
        .iter()
        .enumerate()
        .filter(|(i, _)| !targets.iter().any(|t| t.index == *i))
        .map(|(_, p)| p.clone())
        .collect()
}

async fn change_once(
    args: &Args,
    deskprov: &Server,
    admin: &Admin,
    phones: Arc<Vec<Phone>>,
    phone: &Phone,
    target: &Target,
) -> anyhow::Result<Changed> {
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);
    let load = load::keepalive(deskprov.http, phones, args.connections, warmup, duration);
    let new_name = format!("Bench Renamed {}", target.index);
    let change = async {
        tokio::time::sleep(warmup + duration / 2).await;
        let owner = &target.owner;
        let path = format!("/api/v1/tenants/{}/users/{}", owner.tenant, owner.extension);
        let sent = Instant::now();
        let got = admin
            .api("PATCH", &path, Some(&json!({ "name": new_name })))
            .await?;
        let done = Instant::now();
        ensure!(
            got.status == 200,
            "PATCH {path}: {} {}",
            got.status,
            got.text()
        );
        let file = format!("/{}", phone.main_file().name);
        let probe = admin::send(
            deskprov.http,
            "GET",
            &file,
            &[("User-Agent", &phone.ua)],
            b"",
        )
        .await?;
        anyhow::Ok((
            sent,
            done,
            probe.status == 200 && probe.text().contains(&new_name),
        ))
    };
    let (run, changed) = tokio::join!(load, change);
    let (sent, done, seen) = changed?;
    let start = run.started.context("a keep-alive run has a start")?;
    let second = Duration::from_secs(1);
    let (sent, done) = (sent - start, done - start);
    Ok(Changed {
        before: run.rate_between(sent.saturating_sub(second), sent),
        after: run.rate_between(done, done + second),
        patch_ms: (done - sent).as_secs_f64() * 1e3,
        seen,
        rate: run.rate(),
        errors: run.errors,
    })
}
