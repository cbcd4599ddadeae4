//! P1-log: P1 again with both servers writing an access log to a file of the run folder:
//! deskprov with `--access-log FILE`, nginx with `access_log FILE combined buffer=64k
//! flush=1s`. Afterwards the lines in each file are counted against the answers received, and
//! deskprov's count of dropped lines is read from its `/metrics`.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Args;
use crate::corpus::{Corpus, Phone};
use crate::figures::{self, Measured};
use crate::report::LogLines;
use crate::servers::{self, Setup};

/// Runs P1-log on `db` (the database the other figures left) over `phones`: the rounds
/// (`[deskprov, nginx]`) and what the logs hold.
pub fn p1_log(
    args: &Args,
    setup: &Setup,
    runtime: &tokio::runtime::Runtime,
    corpus: &Corpus,
    nginx_bin: &str,
    db: &Path,
    phones: &Arc<Vec<Phone>>,
) -> anyhow::Result<(Vec<[Measured; 2]>, LogLines)> {
    let logs = [
        setup.dir.join("deskprov-access.log"),
        setup.dir.join("nginx-access.log"),
    ];
    let deskprov = setup.start_deskprov(db, "log", Some(&logs[0]))?;
    let probe = &phones[0];
    servers::wait_for_200(
        deskprov.http,
        &probe.main_file().name,
        &probe.ua,
        Instant::now(),
        Duration::from_secs(30),
    )?;
    deskprov.wait_rendered_ahead(Duration::from_secs(600))?;
    let nginx = crate::start_nginx(setup, nginx_bin, corpus, Some(&logs[1]))?;
    deskprov.settle();
    let rounds = figures::p1_rounds(
        args,
        runtime,
        "P1-log",
        [&deskprov, &nginx],
        [phones, phones],
    );
    let dropped = deskprov
        .admin
        .and_then(|addr| runtime.block_on(dropped_lines(addr)).ok().flatten());
    // Stopping flushes what both still buffer.
    deskprov.stop();
    nginx.stop();
    let answered = |i: usize| rounds.iter().map(|r| r[i].run.answered).sum::<u64>();
    let lines = LogLines {
        lines: [count_lines(&logs[0])?, count_lines(&logs[1])?],
        answered: [answered(0), answered(1)],
        dropped,
    };
    eprintln!(
        "P1-log: access log lines / answers: deskprov {} / {}, nginx {} / {}, deskprov dropped {:?}",
        lines.lines[0], lines.answered[0], lines.lines[1], lines.answered[1], lines.dropped
    );
    Ok((rounds, lines))
}

/// `deskprov_access_log_dropped_total` from deskprov's `/metrics`.
async fn dropped_lines(admin: std::net::SocketAddr) -> anyhow::Result<Option<u64>> {
    let got = crate::admin::send(admin, "GET", "/metrics", &[], b"").await?;
    Ok(got.text().lines().find_map(|l| {
        l.strip_prefix("deskprov_access_log_dropped_total ")
            .and_then(|v| v.trim().parse().ok())
    }))
}

/// Lines of the file at `path` (0 when it does not exist).
fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let Ok(mut file) = fs::File::open(path) else {
        return Ok(0);
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}
