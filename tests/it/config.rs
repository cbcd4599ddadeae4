//! The settings file (`--config`), its precedence (flags > env > file > defaults), and
//! `deskprov config check`, run as the real binary.

use std::path::Path;

use reqwest::StatusCode;

use crate::binary::{ServerProcess, command, run, stderr, stdout};

/// The value and origin `config check` prints for `key`.
fn setting(check_output: &str, key: &str) -> (String, String) {
    let line = check_output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{check_output}"));
    let mut words = line.split_whitespace().skip(1);
    let value = words.next().unwrap().to_owned();
    (value, words.collect::<Vec<_>>().join(" "))
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deskprov.toml"),
        "ban_misses = 3\nban_window = \"2m\"\nphone_listen = \"127.0.0.1:18080\"\n",
    )
    .unwrap();
    let file = ["--config", "deskprov.toml"];
    let env = [("DESKPROV_BAN_MISSES", "4"), ("DESKPROV_BAN_WINDOW", "3m")];
    let flag = ["--ban-misses", "5"];
    let with_flag = [&file[..], &flag[..]].concat();
    let no_env: &[(&str, &str)] = &[];
    let cases = [
        ("5", "flag --ban-misses", &with_flag[..], &env[..]),
        ("4", "env DESKPROV_BAN_MISSES", &file[..], &env[..]),
        ("3", "file", &file[..], no_env),
        ("10", "default", &[][..], no_env),
    ];
    for (value, origin, layers, envs) in cases {
        let mut args = vec!["config", "check"];
        args.extend_from_slice(layers);
        let out = run(dir.path(), &args, envs);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(
            setting(&stdout(&out), "ban_misses"),
            (value.to_owned(), origin.to_owned()),
            "{args:?} {envs:?}"
        );
    }
    // The layers apply per setting: one run mixes all four.
    let out = run(
        dir.path(),
        &[
            "config",
            "check",
            "--config",
            "deskprov.toml",
            "--ban-misses",
            "5",
        ],
        &env,
    );
    let text = stdout(&out);
    assert_eq!(
        setting(&text, "ban_misses"),
        ("5".into(), "flag --ban-misses".into())
    );
    assert_eq!(
        setting(&text, "ban_window"),
        ("3m".into(), "env DESKPROV_BAN_WINDOW".into())
    );
    assert_eq!(
        setting(&text, "phone_listen"),
        ("127.0.0.1:18080".into(), "file".into())
    );
    assert_eq!(setting(&text, "ban_for"), ("15m".into(), "default".into()));
    // DESKPROV_CONFIG names the file as --config does.
    let out = run(
        dir.path(),
        &["config", "check"],
        &[("DESKPROV_CONFIG", "deskprov.toml")],
    );
    assert_eq!(
        setting(&stdout(&out), "ban_misses"),
        ("3".into(), "file".into())
    );
}

#[test]
fn fetch_retention_is_90_days_unless_set_to_a_duration_or_forever() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str]| {
        let out = run(dir.path(), &[&["config", "check"][..], args].concat(), &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        setting(&stdout(&out), "fetch_retention")
    };
    assert_eq!(check(&[]), ("90d".into(), "default".into()));
    assert_eq!(
        check(&["--fetch-retention", "forever"]),
        ("forever".into(), "flag --fetch-retention".into())
    );
    assert_eq!(
        check(&["--fetch-retention", "336h"]),
        ("14d".into(), "flag --fetch-retention".into())
    );
    let out = run(dir.path(), &["serve", "--fetch-retention", "0d"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--fetch-retention") && stderr(&out).contains("forever"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_nonce_lifetime_is_five_minutes_unless_set_from_one_second_up() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let out = run(dir.path(), &[&["config", "check"][..], args].concat(), env);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        setting(&stdout(&out), "nonce_lifetime")
    };
    assert_eq!(check(&[], &[]), ("5m".into(), "default".into()));
    assert_eq!(
        check(&["--nonce-lifetime", "1s"], &[]),
        ("1s".into(), "flag --nonce-lifetime".into())
    );
    assert_eq!(
        check(&[], &[("DESKPROV_NONCE_LIFETIME", "2m")]),
        ("2m".into(), "env DESKPROV_NONCE_LIFETIME".into())
    );
    let out = run(dir.path(), &["serve", "--nonce-lifetime", "0s"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--nonce-lifetime"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn serve_and_token_create_read_the_file_with_paths_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let config = etc.join("deskprov.toml");
    std::fs::write(
        &config,
        "db = \"data.db\"\nphone_listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // Started elsewhere: the database is still the one beside the file.
    let mut server = ServerProcess::start(dir.path(), &["--config", config], &[]);
    assert!(etc.join("data.db").exists());
    assert!(!dir.path().join("data.db").exists());
    assert!(!server.json_lines().is_empty(), "log_format from the file");

    let out = run(
        dir.path(),
        &["--config", config, "token", "create", "--role", "admin"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).lines().last().unwrap().trim().to_owned();
    let status = reqwest::Client::new()
        .get(format!("http://{}/api/v1/tenants", server.admin))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status,
        StatusCode::OK,
        "the token went into the server's database"
    );
    let out = run(dir.path(), &["--config", config, "backup", "copy.db"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("Backed up {}", etc.join("data.db").display())),
        "backup read the database from the file: {}",
        stdout(&out)
    );
    server.stop();
}

#[test]
fn a_bad_settings_file_stops_serve_with_the_file_and_key_named() {
    let dir = tempfile::tempdir().unwrap();
    for (text, words) in [
        (
            "phone_lisen = \"0.0.0.0:8080\"\n",
            &["deskprov.toml", "unknown setting `phone_lisen`"][..],
        ),
        (
            "admin_listen = \"localhost\"\n",
            &["deskprov.toml", "`admin_listen`", "\"localhost\""],
        ),
        (
            "ban_window = \"soon\"\n",
            &["deskprov.toml", "`ban_window`", "duration"],
        ),
        (
            "fetch_retention = \"a year\"\n",
            &["deskprov.toml", "`fetch_retention`", "duration", "forever"],
        ),
        ("tls_cert = [\n", &["deskprov.toml", "TOML"]),
    ] {
        std::fs::write(dir.path().join("deskprov.toml"), text).unwrap();
        for args in [
            &["serve", "--config", "deskprov.toml"][..],
            &["config", "check", "--config", "deskprov.toml"],
        ] {
            let out = run(dir.path(), args, &[]);
            assert!(!out.status.success(), "{text:?} {args:?}");
            for word in words {
                assert!(
                    stderr(&out).contains(word),
                    "{text:?} {args:?}: {}",
                    stderr(&out)
                );
            }
        }
        assert!(
            !dir.path().join("deskprov.db").exists(),
            "nothing was started"
        );
    }
    let out = run(dir.path(), &["serve", "--config", "missing.toml"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

/// Writes a self-signed certificate and its key as `<name>.pem` and `<name>.key`.
fn certificate(dir: &Path, name: &str) {
    let made = rcgen::generate_simple_self_signed(vec!["prov.example.com".to_owned()]).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), made.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        made.signing_key.serialize_pem(),
    )
    .unwrap();
}

/// `config check` with `toml` as the file: success, and its stdout and stderr.
fn check(dir: &Path, toml: &str) -> (bool, String) {
    std::fs::write(dir.join("deskprov.toml"), toml).unwrap();
    let out = run(dir, &["config", "check", "--config", "deskprov.toml"], &[]);
    (
        out.status.success(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

#[test]
fn config_check_accepts_a_working_tls_setup_and_names_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "prov");
    certificate(dir.path(), "other");
    certificate(dir.path(), "ca");
    let base = "phone_listen = \"127.0.0.1:18080\"\nadmin_listen = \"127.0.0.1:18081\"\nphone_tls_listen = \"127.0.0.1:18443\"\n";

    let (ok, text) = check(
        dir.path(),
        &format!(
            "{base}tls_cert = \"prov.pem\"\ntls_key = \"prov.key\"\nclient_ca = [\"yealink=ca.pem\"]\n"
        ),
    );
    assert!(ok, "{text}");
    assert!(text.contains("ok      TLS certificate"), "{text}");
    assert!(text.contains("1 client CA bundle(s) parse"), "{text}");
    assert!(
        text.contains("does not exist yet; serve will create it"),
        "{text}"
    );
    assert!(text.contains("The configuration is usable."), "{text}");

    for (extra, expected) in [
        (
            "tls_cert = \"prov.pem\"\ntls_key = \"other.key\"\n",
            "do not belong together",
        ),
        (
            "tls_cert = \"prov.pem\"\ntls_key = \"nowhere.key\"\n",
            "nowhere.key",
        ),
        ("tls_cert = \"prov.pem\"\n", "--tls-cert needs --tls-key"),
        (
            "tls_cert = \"prov.pem\"\ntls_key = \"prov.key\"\nclient_ca = \"prov.key\"\n",
            "holds no PEM certificate",
        ),
        (
            "tls_cert = \"prov.pem\"\ntls_key = \"prov.key\"\nclient_ca = \"acme=ca.pem\"\n",
            "`acme` is not a vendor",
        ),
        (
            "client_ca = \"ca.pem\"\n",
            "--client-ca needs the HTTPS listener",
        ),
        ("db = \"ca.pem\"\n", "is not a deskprov database"),
        ("db = \"no/such/dir/deskprov.db\"\n", "does not exist"),
    ] {
        let (ok, text) = check(dir.path(), &format!("{base}{extra}"));
        assert!(!ok, "{extra:?} passed:\n{text}");
        assert!(
            text.contains("PROBLEM") && text.contains(expected),
            "{extra:?}:\n{text}"
        );
        assert!(text.contains("the configuration has"), "{text}");
    }

    let (ok, text) = check(
        dir.path(),
        "phone_listen = \"0.0.0.0:18080\"\nadmin_listen = \"127.0.0.1:18080\"\n",
    );
    assert!(!ok);
    assert!(text.contains("phone_listen and admin_listen"), "{text}");
}

#[test]
fn config_check_takes_the_same_flags_as_serve() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(
        dir.path(),
        &[
            "config",
            "check",
            "--admin-listen",
            "0.0.0.0:18081",
            "--db",
            "x.db",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        setting(&text, "admin_listen"),
        ("0.0.0.0:18081".into(), "flag --admin-listen".into())
    );
    assert_eq!(setting(&text, "db"), ("x.db".into(), "flag --db".into()));
    assert!(
        text.contains("note    the admin listener 0.0.0.0:18081 is reachable from other hosts"),
        "{text}"
    );
}
