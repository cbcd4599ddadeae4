//! The measured runs shared by the figures: a keep-alive run (P1 and its variants) and a boot
//! storm (P2, P3), with the CPU both sides spent, and rounds that alternate two servers.

use std::sync::Arc;
use std::time::Duration;

use crate::Args;
use crate::corpus::Phone;
use crate::load::{self, Run, Transport};
use crate::servers::{self, Server};

/// One run of one server: what the client saw and what both sides spent.
#[derive(Debug, Clone)]
pub struct Measured {
    /// What the load generator saw.
    pub run: Run,
    /// Server CPU seconds over the measured part (storms: until the server went idle).
    pub server_cpu: f64,
    /// Load generator CPU seconds over the measured part.
    pub client_cpu: f64,
}

impl Measured {
    /// Server CPU per right answer, µs.
    pub fn server_us_per_req(&self) -> f64 {
        self.server_cpu * 1e6 / self.run.ok.max(1) as f64
    }

    /// The load generator's CPU use, % of its core.
    pub fn client_percent(&self) -> f64 {
        100.0 * self.client_cpu / self.run.seconds
    }
}

/// deskprov first in odd rounds, nginx first in even ones.
pub fn order(round: usize) -> &'static [usize] {
    if round.is_multiple_of(2) {
        &[0, 1]
    } else {
        &[1, 0]
    }
}

/// A P1-like run: `--connections` keep-alive connections fetching random phones' per-MAC files.
pub async fn p1_once(args: &Args, server: &Server, phones: Arc<Vec<Phone>>) -> Measured {
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);
    let pid_cpu = || (server.cpu_seconds(), servers::own_cpu_seconds());
    let load = load::keepalive(server.http, phones, args.connections, warmup, duration);
    // CPU is read at the edges of the measured window, from a task beside the load.
    let sampler = async {
        tokio::time::sleep(warmup).await;
        let a = pid_cpu();
        tokio::time::sleep(duration).await;
        let b = pid_cpu();
        (b.0 - a.0, b.1 - a.1)
    };
    let (run, (server_cpu, client_cpu)) = tokio::join!(load, sampler);
    Measured {
        run,
        server_cpu,
        client_cpu,
    }
}

/// `--rounds` keep-alive runs of two servers, alternating which goes first; each server gets
/// its own phones (the same list for a fair pair, or two corpora for P7).
pub fn p1_rounds(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    figure: &str,
    servers: [&Server; 2],
    phones: [&Arc<Vec<Phone>>; 2],
) -> Vec<[Measured; 2]> {
    (0..args.rounds)
        .map(|round| p1_pair(args, runtime, figure, round, servers, phones))
        .collect()
}

/// One round of [`p1_rounds`].
pub fn p1_pair(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    figure: &str,
    round: usize,
    servers: [&Server; 2],
    phones: [&Arc<Vec<Phone>>; 2],
) -> [Measured; 2] {
    let mut pair = [None, None];
    for &i in order(round) {
        let m = runtime.block_on(p1_once(args, servers[i], phones[i].clone()));
        log_p1(figure, round, servers[i], &m);
        pair[i] = Some(m);
        servers[i].settle();
    }
    pair.map(Option::unwrap)
}

/// Prints one keep-alive run.
pub fn log_p1(figure: &str, round: usize, server: &Server, m: &Measured) {
    eprintln!(
        "{figure} round {} {}: {:.0} req/s, {} errors, server {:.1} µs/req, client CPU {:.0} %, p99 {:.2} ms",
        round + 1,
        server.name,
        m.run.rate(),
        m.run.errors,
        m.server_us_per_req(),
        m.client_percent(),
        m.run.clone().quantile_ms(0.99),
    );
    for e in &m.run.error_samples {
        eprintln!("    error: {e}");
    }
}

/// One boot storm of `phones` against `server`, measured until the server went idle.
pub fn storm_once(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    transport: &Transport,
    phones: Arc<Vec<Phone>>,
    concurrency: usize,
) -> Measured {
    let addr = match transport {
        Transport::Plain => server.http,
        Transport::Tls(_) => server.https,
    };
    let (s0, c0) = (server.cpu_seconds(), servers::own_cpu_seconds());
    let run = runtime.block_on(load::storm(addr, transport.clone(), phones, concurrency));
    let c1 = servers::own_cpu_seconds();
    server.settle();
    Measured {
        server_cpu: server.cpu_seconds() - s0,
        client_cpu: c1 - c0,
        run,
    }
}

/// `--rounds` storms of `--storm-phones` random phones (a new sample per round, the same for
/// both servers of a round), alternating the servers.
pub fn storm_rounds(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    servers: &[&Server; 2],
    phones: &[Phone],
    transport: Transport,
    figure: &str,
) -> Vec<[Measured; 2]> {
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        let sampled = Arc::new(sample(phones, args.storm_phones, round as u64 + 1));
        let mut pair = [None, None];
        for &i in order(round) {
            let m = storm_once(
                runtime,
                servers[i],
                &transport,
                sampled.clone(),
                args.storm_concurrency,
            );
            log_storm(figure, round, servers[i], &m);
            pair[i] = Some(m);
        }
        rounds.push(pair.map(Option::unwrap));
    }
    rounds
}

/// Prints one storm.
pub fn log_storm(figure: &str, round: usize, server: &Server, m: &Measured) {
    eprintln!(
        "{figure} round {} {}: {} files in {:.2} s ({:.0}/s), {} errors, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, server {:.1} µs/file, client CPU {:.0} %",
        round + 1,
        server.name,
        m.run.ok,
        m.run.seconds,
        m.run.rate(),
        m.run.errors,
        m.run.clone().quantile_ms(0.5),
        m.run.clone().quantile_ms(0.99),
        m.run.clone().quantile_ms(1.0),
        m.server_us_per_req(),
        m.client_percent(),
    );
    for e in &m.run.error_samples {
        eprintln!("    error: {e}");
    }
}

/// `n` distinct phones, shuffled with `seed` (the same sample for both servers of a round).
pub fn sample(phones: &[Phone], n: usize, seed: u64) -> Vec<Phone> {
    sample_indices(phones.len(), n, seed)
        .into_iter()
        .map(|i| phones[i].clone())
        .collect()
}

/// `n` distinct indices below `len`, shuffled with `seed`.
pub fn sample_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n = n.min(len);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = i + (x as usize) % (idx.len() - i);
        idx.swap(i, j);
    }
    idx.truncate(n);
    idx
}

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
