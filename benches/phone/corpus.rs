//! The benchmark's data: a database of N devices over every vendor (each owner with two
//! aliases), filled through the library's store functions, and the very files deskprov renders
//! for them, written to a folder nginx serves.

use deskprov::domain::audit::Actor;
use deskprov::domain::device_state::DeviceState;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use deskprov::domain::Mac;
use deskprov::domain::device::DeviceDraft;
use deskprov::domain::tenant::TenantDraft;
use deskprov::domain::user::{AliasDraft, TenantRules, UserDraft};
use deskprov::profile::provision::{render_common_file, render_device_file};
use deskprov::profile::{FileKind, Vendor, Vendors};
use deskprov::store::device_state::{self, Batch, Binding, StateWrite, Version};
use deskprov::store::{Store, aliases, devices, tenants, users};
use serde_json::json;

/// The URL both servers' files carry (deskprov runs with `--public-url` set to it).
pub const PUBLIC_URL: &str = "http://prov.bench.test";

/// What a phone of each vendor requests when it boots (file patterns of the profile, in
/// order), and which of its files carries the accounts (the per-MAC file of P1).
pub fn boot_sequence(vendor: &str) -> (&'static [&'static str], &'static str) {
    match vendor {
        "yealink" => (
            &["{mac}.boot", "y000000000{cfg_id}.cfg", "{mac}.cfg"],
            "{mac}.cfg",
        ),
        "polycom" => (
            &["{mac}.cfg", "{mac}-user.cfg", "polycom-common.cfg"],
            "{mac}-user.cfg",
        ),
        "cisco_spa" => (&["spa{psn}.cfg", "{mac}.xml"], "{mac}.xml"),
        "cisco_mpp" => (&["{model}-3PCC.xml", "{mac}.xml"], "{mac}.xml"),
        "snom" => (
            &["snom{model}.htm", "snom{model}-{MAC}.htm", "snom-{MAC}.xml"],
            "snom-{MAC}.xml",
        ),
        // The phones go on to `cfg.xml`, whose body follows the User-Agent's model: a static
        // server cannot answer that one, so it is left out.
        "grandstream" => (&["cfg{mac}.xml", "cfg{file_model}.xml"], "cfg{mac}.xml"),
        "fanvil" => (&["{common}", "{mac}.cfg"], "{mac}.cfg"),
        other => panic!("no boot sequence for vendor {other}: add one to benches/phone/corpus.rs"),
    }
}

/// A real User-Agent of `vendor`'s phones for `model` and `mac`.
pub fn user_agent(vendor: &str, model: &str, mac: &Mac) -> String {
    let (lower, upper, colon) = (mac.lower12(), mac.upper12(), mac.colon());
    match vendor {
        "yealink" => format!("Yealink SIP-{model} 108.86.0.45 {colon}"),
        "polycom" => format!("FileTransport PolycomVVX-{model}-UA/6.4.6.2317 Type/Application"),
        "cisco_spa" => format!("Cisco/{model}-7.6.2 ({upper})(CBT141400UK)"),
        "cisco_mpp" => format!("Cisco-CP-{model}-3PCC/12.0.1 ({lower})"),
        "snom" => format!(
            "Mozilla/4.0 (compatible; snom{model}-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {upper} SXM:0 UXM:0)"
        ),
        "grandstream" => format!("Grandstream Model HW {model} SW 1.0.5.15 DevId {lower}"),
        "fanvil" => format!("Fanvil {model} 2.10.2.6887 {lower}"),
        other => panic!("no User-Agent for vendor {other}"),
    }
}

/// One file a phone fetches: its name and the size of the body both servers answer with.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct File {
    pub name: String,
    pub len: usize,
}

/// One device of the benchmark database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Phone {
    pub mac: String,
    pub vendor: String,
    pub model: String,
    pub ua: String,
    /// Index into `boot` of the per-MAC file with the accounts.
    pub main: usize,
    /// The files it requests on boot, in order.
    pub boot: Vec<File>,
}

impl Phone {
    /// The per-MAC file with the accounts (P1).
    pub fn main_file(&self) -> &File {
        &self.boot[self.main]
    }
}

/// The benchmark data on disk: the database as filled (copied before each run) and the files.
pub struct Corpus {
    pub dir: PathBuf,
    pub phones: Vec<Phone>,
}

impl Corpus {
    pub fn pristine_db(&self) -> PathBuf {
        self.dir.join("pristine.db")
    }

    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }
}

/// Loads the corpus for `devices` × `tenants` from `root`, building it first when missing.
pub fn ensure(
    root: &Path,
    devices: usize,
    tenants: usize,
    booted: bool,
    fresh: bool,
    vendors: &Vendors,
) -> anyhow::Result<Corpus> {
    let state = if booted { "booted" } else { "new" };
    let dir = root.join(format!("corpus-{devices}-{tenants}-{state}"));
    let index = dir.join("phones.json");
    if fresh && dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let stamp = source_stamp()?;
    let stamp_file = dir.join("source.sha256");
    if index.exists() && fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
        let phones: Vec<Phone> = serde_json::from_slice(&fs::read(&index)?)?;
        eprintln!(
            "corpus: reusing {} ({} devices)",
            dir.display(),
            phones.len()
        );
        return Ok(Corpus { dir, phones });
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let corpus = Corpus {
        dir: dir.clone(),
        phones: Vec::new(),
    };
    eprintln!("corpus: filling a database with {devices} devices in {tenants} tenants …");
    let plan = plan(devices, vendors)?;
    let took = fill(&corpus.pristine_db(), tenants, &plan, 1_000)?;
    eprintln!(
        "corpus: filled in {:.1} s ({devices} users, {} aliases, {devices} devices)",
        took.as_secs_f64(),
        2 * devices
    );
    eprintln!("corpus: rendering the files nginx serves …");
    let phones = render_all(&corpus, &plan, vendors, booted)?;
    fs::write(&index, serde_json::to_vec(&phones)?)?;
    fs::write(&stamp_file, stamp)?;
    Ok(Corpus { dir, phones })
}

/// A hash of everything the database and the rendered files depend on (schema, profiles,
/// templates, rendering and domain code, this file): a corpus built from other sources is
/// rebuilt rather than compared against files deskprov no longer renders.
fn source_stamp() -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src/store/migrations",
        "src/domain",
        "src/profile",
        "templates",
        "vendors",
    ] {
        collect(&root.join(dir), &mut files)?;
    }
    files.push(root.join("benches/phone/corpus.rs"));
    files.sort();
    let mut hash = Sha256::new();
    for f in files {
        hash.update(
            f.strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(fs::read(&f)?);
    }
    Ok(hex::encode(hash.finalize()))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// A device to create: vendor, model, MAC.
#[derive(Debug, Clone)]
pub struct Planned {
    pub vendor: String,
    pub model: String,
    pub mac: Mac,
}

/// `count` devices, round-robin over the vendors and over each vendor's models whose boot
/// files all exist; MACs in each vendor's first OUI.
pub fn plan(count: usize, vendors: &Vendors) -> anyhow::Result<Vec<Planned>> {
    ensure!(count < 1 << 24, "at most 16 million devices");
    let mut eligible: Vec<(&Vendor, Vec<String>)> = Vec::new();
    for vendor in vendors.all() {
        let (sequence, _) = boot_sequence(vendor.id());
        let mac = mac_for(vendor, 0)?;
        // Models that share a common file name (Fanvil X1S and X1SP) get bodies naming each
        // model, which a static server cannot tell apart: one model per common name is kept.
        let mut seen_common = std::collections::BTreeSet::new();
        let mut models = Vec::new();
        for model in vendor.profile.models.keys() {
            let names = vendors.device_file_names(vendor, &mac, Some(model));
            let mut common = Vec::new();
            let complete = sequence.iter().all(|p| {
                names.iter().any(|(name, spec)| {
                    if spec.name == *p && spec.kind == FileKind::Common {
                        common.push(name.clone());
                    }
                    spec.name == *p
                })
            });
            if complete && seen_common.insert(common) {
                models.push(model.clone());
            }
        }
        ensure!(
            !models.is_empty(),
            "{}: no model serves its whole boot sequence",
            vendor.id()
        );
        eligible.push((vendor, models));
    }
    (0..count)
        .map(|i| {
            let (vendor, models) = &eligible[i % eligible.len()];
            let n = i / eligible.len();
            Ok(Planned {
                vendor: vendor.id().to_owned(),
                model: models[n % models.len()].clone(),
                mac: mac_for(vendor, n as u32 + 1)?,
            })
        })
        .collect()
}

fn mac_for(vendor: &Vendor, n: u32) -> anyhow::Result<Mac> {
    let oui = vendor.profile.ouis.first().context("vendor without OUI")?;
    let text = format!("{}{:06x}", oui.replace([':', '-'], ""), n);
    Mac::parse(&text).map_err(|e| anyhow::anyhow!("{text}: {}", e.message))
}

/// Fills a new database at `path`: `tenants` tenants, and for each planned device a user
/// (extension 100000 + i of its tenant) with two aliases, owning it. One transaction per
/// `batch` users. Returns the time the inserts took.
pub fn fill(
    path: &Path,
    tenants: usize,
    plan: &[Planned],
    batch: usize,
) -> anyhow::Result<Duration> {
    let store = Store::open(path)?;
    let actor = Actor::new("bench");
    let mut rng = rand::rng();
    let mut made = Vec::new();
    for t in 0..tenants {
        let draft: TenantDraft = serde_json::from_value(json!({
            "name": format!("bench{t}.example"),
            "sip_server": format!("pbx.bench{t}.example"),
            "timezone": "Europe/Berlin",
            "language": "de",
        }))?;
        let spec = draft.into_new().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let (tenant, _) = store.write_blocking(|tx| tenants::insert(tx, &actor, spec))?;
        made.push(tenant);
    }
    let started = Instant::now();
    for (chunk_no, chunk) in plan.chunks(batch).enumerate() {
        // Drafts are checked outside the transaction, as the API does.
        let mut work = Vec::with_capacity(chunk.len());
        for (k, p) in chunk.iter().enumerate() {
            let i = chunk_no * batch + k;
            let tenant = &made[i % tenants];
            let rules = TenantRules {
                plan: &tenant.extension_plan,
                prefix: &tenant.sip_username_prefix,
            };
            let extension = format!("{}", 100_000 + i / tenants);
            let user: UserDraft = serde_json::from_value(json!({
                "name": format!("Bench User {i}"),
                "extension": extension,
                "email": format!("user{i}@bench.example"),
            }))?;
            let user = user
                .into_new(rules, &mut rng)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let alias_specs = ["Support", "Sales"]
                .iter()
                .map(|what| {
                    let draft: AliasDraft =
                        serde_json::from_value(json!({"name": format!("{what} {i}")}))?;
                    draft
                        .into_new(&tenant.sip_username_prefix, &mut rng)
                        .map_err(|e| anyhow::anyhow!("{e:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let device: DeviceDraft = serde_json::from_value(json!({
                "mac": p.mac.lower12(),
                "tenant": tenant.name,
                "extension": extension,
                "model": p.model,
            }))?;
            let device = device.into_spec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            work.push((tenant.clone(), user, alias_specs, device, p.vendor.clone()));
        }
        store.write_blocking(|tx| {
            for (tenant, user, alias_specs, device, vendor) in &work {
                let user = users::insert(tx, &actor, tenant, user)?;
                for spec in alias_specs {
                    aliases::insert(tx, &actor, &tenant.sip_username_prefix, &user, spec)?;
                }
                devices::insert(tx, &actor, tenant, device, vendor)?;
            }
            Ok(())
        })?;
    }
    Ok(started.elapsed())
}

/// Renders every boot file of every device as deskprov answers it and writes it to `www/`.
///
/// With `booted`, every device is then recorded as having fetched its boot files once (through
/// the fetch-record writer's store function): the database of a site whose phones have booted
/// before, as after a power cut. Without, every device is still waiting for its first fetch.
fn render_all(
    corpus: &Corpus,
    plan: &[Planned],
    vendors: &Vendors,
    booted: bool,
) -> anyhow::Result<Vec<Phone>> {
    let www = corpus.www();
    fs::create_dir_all(&www)?;
    let store = Store::open(&corpus.pristine_db())?;
    let mut common: BTreeMap<String, String> = BTreeMap::new();
    let mut phones = Vec::with_capacity(plan.len());
    let mut records = Vec::new();
    for p in plan {
        let vendor = vendors.get(&p.vendor).context("vendor")?;
        let ua = user_agent(&p.vendor, &p.model, &p.mac);
        let info = vendors.parse_ua(&ua).context("UA not recognised")?;
        ensure!(
            info.vendor == p.vendor && info.model.as_deref() == Some(p.model.as_str()),
            "UA {ua} reads as {info:?}"
        );
        ensure!(
            info.mac.is_none_or(|m| m == p.mac),
            "UA {ua} carries another MAC"
        );
        let names = vendors.device_file_names(vendor, &p.mac, Some(&p.model));
        let (sequence, main) = boot_sequence(&p.vendor);
        let mac = p.mac;
        let mut bundle = store
            .read_blocking(move |c| devices::bundle(c, &mac))?
            .context("device missing from the database")?;
        // As the phone handler does: the model the User-Agent names is the one rendered for.
        bundle.device.seen_model = info.model.clone();
        let mut boot = Vec::new();
        for pattern in sequence {
            let (name, spec) = names
                .iter()
                .find(|(_, spec)| spec.name == *pattern)
                .context("boot file")?;
            let matched = vendors
                .match_file(name)
                .into_iter()
                .find(|m| m.vendor.id() == p.vendor)
                .with_context(|| format!("{name} does not match {}", p.vendor))?;
            ensure!(
                std::ptr::eq(matched.file, *spec),
                "{name} matches another pattern"
            );
            let len = match spec.kind {
                FileKind::Device => {
                    let (rendered, _) =
                        render_device_file(&bundle, vendor, spec, PUBLIC_URL, false)?;
                    write(&www.join(name), &rendered.body)?;
                    let now = chrono::Utc::now();
                    records.push(StateWrite {
                        device_id: bundle.device.id,
                        state: DeviceState {
                            first_fetch_at: Some(now),
                            last_fetch_at: Some(now),
                            last_ip: Some([127, 0, 0, 1].into()),
                            user_agent: Some(ua.as_str().into()),
                            model: info.model.as_deref().map(Into::into),
                            firmware: info.firmware.as_deref().map(Into::into),
                            last_file: Some(name.as_str().into()),
                            files: Vec::new(),
                        },
                        binding: Some(Binding {
                            at: now,
                            ip: "127.0.0.1".into(),
                            cert: None,
                        }),
                        versions: vec![Version {
                            file: name.clone(),
                            body_hash: rendered.etag.clone(),
                            server_url: PUBLIC_URL.into(),
                            at: now,
                        }],
                    });
                    rendered.body.len()
                }
                FileKind::Common => {
                    // No URL key: common files are rendered with built-in settings only.
                    let model = matched
                        .model_for(name, info.model.as_deref())
                        .or_else(|| info.model.clone());
                    let rendered =
                        render_common_file(vendor, spec, model.as_deref(), &[], PUBLIC_URL)?;
                    match common.get(name) {
                        Some(body) => ensure!(
                            *body == rendered.body,
                            "{name} differs between models: a static server cannot serve it"
                        ),
                        None => {
                            write(&www.join(name), &rendered.body)?;
                            common.insert(name.clone(), rendered.body.clone());
                        }
                    }
                    rendered.body.len()
                }
            };
            boot.push(File {
                name: name.clone(),
                len,
            });
        }
        let main = sequence
            .iter()
            .position(|s| s == &main)
            .context("main file")?;
        phones.push(Phone {
            mac: p.mac.lower12(),
            vendor: p.vendor.clone(),
            model: p.model.clone(),
            ua,
            main,
            boot,
        });
    }
    if phones.is_empty() {
        bail!("no devices");
    }
    if booted {
        for chunk in records.chunks(5_000) {
            let batch = Batch {
                states: chunk.to_vec(),
                events: Vec::new(),
            };
            store.write_blocking(|tx| device_state::write(tx, &batch))?;
        }
    }
    Ok(phones)
}

fn write(path: &Path, body: &str) -> anyhow::Result<()> {
    let mut f = fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(body.as_bytes())?;
    Ok(())
}
