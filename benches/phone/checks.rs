//! Checks around the measurements: both servers answer the same bytes, and this load generator
//! against wrk on nginx (`--wrk`).

use std::fs;
use std::sync::Arc;

use anyhow::{Context, ensure};

use crate::Args;
use crate::corpus::{Corpus, Phone};
use crate::figures::{p1_once, sample};
use crate::servers::{self, Pinning, Server};

/// Fetches every boot file of a sample of phones (and every common file) from both servers
/// and fails unless the bodies are byte-identical.
pub fn verify_same_bytes(corpus: &Corpus, deskprov: &Server, nginx: &Server) -> anyhow::Result<()> {
    let picked = sample(&corpus.phones, 350, 99);
    let mut checked = 0;
    for phone in &picked {
        for file in &phone.boot {
            let (a_status, a) = servers::get(deskprov.http, &file.name, &phone.ua)?;
            let (b_status, b) = servers::get(nginx.http, &file.name, &phone.ua)?;
            ensure!(
                a_status == 200 && b_status == 200,
                "{}: deskprov {a_status}, nginx {b_status}",
                file.name
            );
            ensure!(
                a == b && a.len() == file.len,
                "{} differs: deskprov {} bytes, nginx {} bytes",
                file.name,
                a.len(),
                b.len()
            );
            checked += 1;
        }
    }
    eprintln!("bodies: {checked} files byte-identical on both servers");
    Ok(())
}

/// wrk against nginx with random per-MAC paths, next to this load generator's figure.
pub fn wrk_check(
    args: &Args,
    dir: &std::path::Path,
    corpus: &Corpus,
    nginx: &Server,
    pin: &Pinning,
    runtime: &tokio::runtime::Runtime,
    phones: &Arc<Vec<Phone>>,
) -> anyhow::Result<(f64, f64)> {
    let paths = dir.join("paths.txt");
    let list: Vec<&str> = corpus
        .phones
        .iter()
        .map(|p| p.main_file().name.as_str())
        .collect();
    fs::write(&paths, list.join("\n"))?;
    let script = dir.join("random.lua");
    fs::write(
        &script,
        format!(
            "local paths = {{}}\nfor line in io.lines(\"{}\") do paths[#paths + 1] = \"/\" .. line end\n\
             math.randomseed(7)\nrequest = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n",
            paths.display()
        ),
    )?;
    let mut cmd = std::process::Command::new(if pin.client.is_some() {
        "taskset"
    } else {
        "wrk"
    });
    if let Some(cpus) = &pin.client {
        cmd.args(["-c", cpus, "wrk"]);
    }
    let out = cmd
        .args(["-t1", &format!("-c{}", args.connections)])
        .arg(format!("-d{}s", args.duration))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{}/", nginx.http))
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let wrk_rate: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("wrk output")?;
    nginx.settle();
    let ours = runtime.block_on(p1_once(args, nginx, phones.clone()));
    eprintln!(
        "wrk check (nginx, P1 paths): wrk {wrk_rate:.0} req/s, this client {:.0} req/s",
        ours.run.rate()
    );
    Ok((wrk_rate, ours.run.rate()))
}
