//! The printed report: one markdown table with a row per figure, medians over the rounds, each
//! with its reference measured in the same run and the ratio.

use crate::Args;
use crate::admin::Reads;
use crate::change::Changed;
use crate::figures::{Measured, median};
use crate::scale::Scaled;
use crate::servers::Pinning;

/// What the access logs of P1-log hold after the run.
#[derive(Debug, Clone, Default)]
pub struct LogLines {
    /// Lines in deskprov's and nginx's log files.
    pub lines: [u64; 2],
    /// Answers the load generator received from each (warm-up included, probes left out).
    pub answered: [u64; 2],
    /// Lines deskprov reports as dropped (`deskprov_access_log_dropped_total`), if it said.
    pub dropped: Option<u64>,
}

/// Everything one invocation measured.
#[derive(Default)]
pub struct Report {
    /// P1 rounds, `[deskprov, nginx]`.
    pub p1: Vec<[Measured; 2]>,
    /// P1 of the stack's ceiling, one per round.
    pub p1_floor: Vec<Measured>,
    /// P1-log rounds, `[deskprov, nginx]`.
    pub p1_log: Vec<[Measured; 2]>,
    /// What P1-log's access logs hold.
    pub p1_log_lines: Option<LogLines>,
    /// P2 rounds, `[deskprov, nginx]`.
    pub p2: Vec<[Measured; 2]>,
    /// P3 rounds, `[deskprov, nginx]`.
    pub p3: Vec<[Measured; 2]>,
    /// deskprov's resident memory after P1–P2, kB (now, peak).
    pub p4_after_p2: Option<(u64, u64)>,
    /// deskprov's resident memory after P1–P3, kB (now, peak).
    pub p4_end: Option<(u64, u64)>,
    /// nginx's resident memory after P1–P2, kB (now, peak).
    pub p4_nginx: Option<(u64, u64)>,
    /// Start-up to the first 200, ms, one per round.
    pub p5: Option<Vec<f64>>,
    /// From the first 200 until every device's files were rendered ahead, s (last P5 round).
    pub ahead: Option<f64>,
    /// The bulk insert, s, one per round.
    pub p6: Option<Vec<f64>>,
    /// The large corpus.
    pub p7: Option<Scaled>,
    /// The admin reads.
    pub p8: Vec<Reads>,
    /// The renames, one per round.
    pub p9: Vec<Changed>,
    /// wrk's rate and this load generator's on nginx.
    pub wrk: Option<(f64, f64)>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

/// The median of `f` over the `i`-th server of each round.
fn med(rounds: &[[Measured; 2]], i: usize, f: impl Fn(&Measured) -> f64) -> f64 {
    median(rounds.iter().map(|r| f(&r[i])).collect())
}

fn rate(m: &Measured) -> f64 {
    m.run.rate()
}

fn cpu(m: &Measured) -> f64 {
    m.server_us_per_req()
}

fn p99(m: &Measured) -> f64 {
    m.run.clone().quantile_ms(0.99)
}

fn client(m: &Measured) -> f64 {
    m.client_percent()
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

impl Report {
    /// Prints the table on stdout.
    pub fn print(&self, args: &Args, machine: &str, pin: &Pinning, load: &str) {
        println!();
        println!(
            "deskprov phone benchmark: {} devices, {} tenants, {} rounds; machine: {machine}; client CPUs {}, server CPUs {}; load average now {load}",
            args.devices,
            args.tenants,
            args.rounds,
            pin.client.as_deref().unwrap_or("any"),
            pin.server.as_deref().unwrap_or("any"),
        );
        println!();
        println!("| figure | deskprov | reference | ratio | target |");
        println!("|---|---|---|---|---|");
        self.print_p1(args);
        self.print_p1_log(args);
        for (name, rounds) in [
            ("P2 boot storm, new connection per file", &self.p2),
            ("P3 TLS storm, full handshake per connection", &self.p3),
        ] {
            print_storm(args, name, rounds);
        }
        self.print_p4_to_p6();
        if let Some(p7) = &self.p7 {
            print_p7(args, p7);
        }
        print_p8(&self.p8);
        print_p9(&self.p9);
        if let Some((wrk, ours)) = self.wrk {
            println!(
                "| wrk vs this load generator on nginx, P1 paths, req/s | ours {ours:.0} | wrk {wrk:.0} | {:.2} | |",
                ours / wrk
            );
        }
        println!();
        println!("reference: nginx on the same bytes, unless the row names another.");
        for note in &self.notes {
            println!("note: {note}");
        }
    }

    fn print_p1(&self, args: &Args) {
        if self.p1.is_empty() {
            return;
        }
        let p1 = &self.p1;
        let (d, n) = (med(p1, 0, rate), med(p1, 1, rate));
        println!(
            "| P1 keep-alive per-MAC fetches, {} devices, {} conns, deskprov `--access-log off` vs nginx `access_log off`, req/s | {d:.0} | {n:.0} | {:.2} | ≥ 1.00 |",
            args.devices,
            args.connections,
            d / n
        );
        print_common_p1("P1", p1);
        if !self.p1_floor.is_empty() {
            let of_floor = |f: fn(&Measured) -> f64| median(self.p1_floor.iter().map(f).collect());
            let (f, n) = (of_floor(rate), med(p1, 1, rate));
            println!(
                "| P1 stack ceiling: axum/hyper answering the same bytes from memory, no other work, req/s (µs CPU/request) | {f:.0} ({:.1}) | {n:.0} ({:.1}) | {:.2} | |",
                of_floor(cpu),
                med(p1, 1, cpu),
                f / n
            );
            println!(
                "| P1 stack ceiling: load generator CPU, % of its core | {:.0} | | | < 100 |",
                of_floor(client)
            );
        }
    }

    fn print_p1_log(&self, args: &Args) {
        if self.p1_log.is_empty() {
            return;
        }
        let p1 = &self.p1_log;
        let (d, n) = (med(p1, 0, rate), med(p1, 1, rate));
        println!(
            "| P1-log the same, deskprov `--access-log FILE` vs nginx `access_log FILE combined buffer=64k flush=1s`, {} conns, req/s | {d:.0} | {n:.0} | {:.2} | ≥ 1.00 |",
            args.connections,
            d / n
        );
        print_common_p1("P1-log", p1);
        if let Some(l) = &self.p1_log_lines {
            let share = |i: usize| l.lines[i] as f64 / l.answered[i].max(1) as f64;
            println!(
                "| P1-log lines in the access log / answers received (all rounds, warm-up included) | {} / {} ({:.3}) | {} / {} ({:.3}) | | 1.000 |",
                l.lines[0],
                l.answered[0],
                share(0),
                l.lines[1],
                l.answered[1],
                share(1)
            );
            if let Some(dropped) = l.dropped {
                println!(
                    "| P1-log lines deskprov dropped (`deskprov_access_log_dropped_total`) | {dropped} | | | 0 |"
                );
            }
        }
    }

    fn print_p4_to_p6(&self) {
        if let Some((rss, peak)) = self.p4_after_p2 {
            let nginx = self
                .p4_nginx
                .map_or(String::new(), |(r, _)| format!("{:.1}", mb(r)));
            println!(
                "| P4 RSS after P1–P2, MB (peak) | {:.1} ({:.1}) | {nginx} | | ≤ 64 |",
                mb(rss),
                mb(peak)
            );
        }
        if let Some((rss, peak)) = self.p4_end {
            println!(
                "| P4 RSS after P1–P3, MB (peak) | {:.1} ({:.1}) | | | |",
                mb(rss),
                mb(peak)
            );
        }
        if let Some(starts) = &self.p5 {
            println!(
                "| P5 start-up to first 200, ms | {:.0} | | | ≤ 1000 |",
                median(starts.clone())
            );
        }
        if let Some(s) = self.ahead {
            println!(
                "| every device's files rendered ahead, s after the first 200 | {s:.1} | | | |"
            );
        }
        if let Some(times) = &self.p6 {
            println!(
                "| P6 insert 10k users + 20k aliases + 10k devices (store functions), s | {:.2} | | | ≤ 10 |",
                median(times.clone())
            );
        }
    }
}

/// Server CPU, p99 and the load generator's CPU of a pair of keep-alive runs.
fn print_common_p1(name: &str, rounds: &[[Measured; 2]]) {
    let (d, n) = (med(rounds, 0, cpu), med(rounds, 1, cpu));
    println!(
        "| {name} server CPU per request, µs (lower is better) | {d:.1} | {n:.1} | {:.2} | |",
        d / n
    );
    let (d, n) = (med(rounds, 0, p99), med(rounds, 1, p99));
    println!("| {name} p99 latency, ms | {d:.2} | {n:.2} | | |");
    let (d, n) = (med(rounds, 0, client), med(rounds, 1, client));
    println!("| {name} load generator CPU, % of its core | {d:.0} | {n:.0} | | < 100 |");
    let errors: u64 = rounds
        .iter()
        .map(|r| r[0].run.errors + r[1].run.errors)
        .sum();
    if errors > 0 {
        println!("| {name} errors (all rounds, both servers) | {errors} | | | 0 |");
    }
}

fn print_storm(args: &Args, name: &str, rounds: &[[Measured; 2]]) {
    if rounds.is_empty() {
        return;
    }
    let short = &name[..2];
    let (d, n) = (med(rounds, 0, rate), med(rounds, 1, rate));
    let target = if short == "P3" { "≥ 0.80" } else { "" };
    println!(
        "| {name}, {} phones, {} at once, files/s | {d:.0} | {n:.0} | {:.2} | {target} |",
        args.storm_phones,
        args.storm_concurrency,
        d / n
    );
    let (d, n) = (med(rounds, 0, p99), med(rounds, 1, p99));
    let p99_target = if short == "P2" { "≤ 50" } else { "" };
    println!("| {short} p99 latency, ms | {d:.2} | {n:.2} | | {p99_target} |");
    let sum = |i: usize, f: fn(&Measured) -> u64| rounds.iter().map(|r| f(&r[i])).sum::<u64>();
    let (ok, errors) = (|m: &Measured| m.run.ok, |m: &Measured| m.run.errors);
    println!(
        "| {short} served / errors (all rounds) | {} / {} | {} / {} | | 0 errors |",
        sum(0, ok),
        sum(0, errors),
        sum(1, ok),
        sum(1, errors)
    );
    let (d, n) = (med(rounds, 0, cpu), med(rounds, 1, cpu));
    println!(
        "| {short} server CPU per file, µs (lower is better) | {d:.1} | {n:.1} | {:.2} | |",
        d / n
    );
    let (d, n) = (med(rounds, 0, client), med(rounds, 1, client));
    println!("| {short} load generator CPU, % of its core | {d:.0} | {n:.0} | | < 100 |");
}

fn print_p7(args: &Args, p7: &Scaled) {
    let (big, small) = (p7.devices, p7.reference_devices);
    let (r, b) = (med(&p7.p1, 0, rate), med(&p7.p1, 1, rate));
    println!(
        "| P7 P1 with {big} devices, reference: deskprov with {small} devices (alternating), {} conns, req/s | {b:.0} | {r:.0} | {:.2} | ≥ 0.90 |",
        args.connections,
        b / r
    );
    let (r, b) = (med(&p7.p1, 0, cpu), med(&p7.p1, 1, cpu));
    println!(
        "| P7 server CPU per request, µs, {big} vs {small} devices | {b:.1} | {r:.1} | {:.2} | |",
        b / r
    );
    let (r, b) = (med(&p7.p1, 0, p99), med(&p7.p1, 1, p99));
    println!("| P7 p99 latency, ms, {big} vs {small} devices | {b:.2} | {r:.2} | | |");
    let (rss, peak) = p7.rss_kb;
    println!(
        "| P7 RSS after P1–P2 with {big} devices, MB (peak) | {:.1} ({:.1}) | | | ≤ 400 |",
        mb(rss),
        mb(peak)
    );
    println!(
        "| P7 start-up to the first 200 with {big} devices, ms | {:.0} | | | ≤ 5000 |",
        median(p7.starts.clone())
    );
    println!(
        "| P7 every device's files rendered ahead, s after the first 200, {big} devices | {:.1} | | | |",
        p7.ahead
    );
    println!(
        "| P7 database size with {big} devices, MB | {:.0} | | | |",
        p7.db_bytes as f64 / 1e6
    );
    let storm = |f: fn(&Measured) -> f64| median(p7.storms.iter().map(f).collect());
    let errors: u64 = p7.storms.iter().map(|m| m.run.errors).sum();
    println!(
        "| P7 P2 boot storm with {big} devices, {} phones, files/s (p99 ms, errors) | {:.0} ({:.2}, {errors}) | | | 0 errors |",
        args.storm_phones,
        storm(rate),
        storm(p99)
    );
}

fn print_p8(reads: &[Reads]) {
    for r in reads {
        let mut ms = r.ms.clone();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
        let (p50, p99, max) = (median(r.ms.clone()), at(0.99), at(1.0));
        println!(
            "| P8 {}, {} sequential reads, median / p99 (max) ms; ratio: p99 / 100 ms | {p50:.1} / {p99:.1} ({max:.1}) | | {:.2} | ≤ 100 |",
            r.what,
            ms.len(),
            p99 / 100.0
        );
    }
}

fn print_p9(rounds: &[Changed]) {
    if rounds.is_empty() {
        return;
    }
    let after = median(rounds.iter().map(|c| c.after).collect());
    let before = median(rounds.iter().map(|c| c.before).collect());
    let ratio = median(rounds.iter().map(|c| c.after / c.before).collect());
    println!(
        "| P9 P1 in the second after a user's rename (PATCH through the API) vs the second before, req/s | {after:.0} | {before:.0} | {ratio:.2} | ≥ 0.90 |"
    );
    let seen = rounds.iter().filter(|c| c.seen).count();
    let yes = if seen == rounds.len() { "yes" } else { "no" };
    println!(
        "| P9 the phone's file fetched right after the PATCH names the user anew | {yes} ({seen} of {}) | | | yes |",
        rounds.len()
    );
    let patch = median(rounds.iter().map(|c| c.patch_ms).collect());
    let errors: u64 = rounds.iter().map(|c| c.errors).sum();
    println!(
        "| P9 PATCH latency under load, ms (load errors, all rounds) | {patch:.1} ({errors}) | | | |"
    );
}
