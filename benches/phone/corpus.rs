//! The benchmark's data: a database of N devices over every vendor (each owner with two
//! aliases), filled through the library's store functions, and the very files deskprov renders
//! for them, written to a folder nginx serves (`rendering.rs`); kept in the work folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use deskprov::domain::Mac;
use deskprov::domain::audit::Actor;
use deskprov::domain::device::DeviceDraft;
use deskprov::domain::tenant::TenantDraft;
use deskprov::domain::user::{AliasDraft, TenantRules, UserDraft};
use deskprov::profile::{FileKind, Vendor, Vendors};
use deskprov::store::{Store, aliases, devices, tenants, users};
use serde_json::json;

use crate::rendering;

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
    /// Its name, as the phone asks for it.
    pub name: String,
    /// Bytes of its body.
    pub len: usize,
}

/// One device of the benchmark database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Phone {
    /// The MAC, 12 lower-case hex digits.
    pub mac: String,
    /// The vendor profile's id.
    pub vendor: String,
    /// The model.
    pub model: String,
    /// The User-Agent it sends.
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
    /// The corpus folder.
    pub dir: PathBuf,
    /// Every device, in the order they were made.
    pub phones: Vec<Phone>,
    /// Tenants the devices are spread over.
    pub tenants: usize,
}

/// Who owns the `i`-th device of a corpus spread over `tenants` tenants, as [`fill`] made them.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The tenant's name.
    pub tenant: String,
    /// The user's extension.
    pub extension: String,
    /// The user's name.
    pub name: String,
}

/// The name of the `t`-th tenant.
pub fn tenant_name(t: usize) -> String {
    format!("bench{t}.example")
}

/// The owner of the `i`-th device.
pub fn owner(i: usize, tenants: usize) -> Owner {
    Owner {
        tenant: tenant_name(i % tenants),
        extension: format!("{}", 100_000 + i / tenants),
        name: format!("Bench User {i}"),
    }
}

/// Whether the rendered files are written to disk for nginx (P7's corpus needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    OnDisk,
    LengthsOnly,
}

impl Corpus {
    /// Size of the database as filled, bytes (with its WAL, if any).
    pub fn db_bytes(&self) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", self.pristine_db().display()));
        [self.pristine_db(), wal]
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// The database as filled; each run works on a copy.
    pub fn pristine_db(&self) -> PathBuf {
        self.dir.join("pristine.db")
    }

    /// The rendered files nginx serves.
    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }
}

/// What a corpus is made of.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    /// Devices (and users).
    pub devices: usize,
    /// Tenants the users are spread over.
    pub tenants: usize,
    /// Every phone has fetched its boot files once before.
    pub booted: bool,
    /// Rebuild even when a matching corpus exists.
    pub fresh: bool,
    /// Whether the rendered files are written to disk.
    pub files: Files,
}

/// Loads the corpus `want` describes from `root`, building it first when missing.
pub fn ensure(root: &Path, want: Want, vendors: &Vendors) -> anyhow::Result<Corpus> {
    let Want {
        devices,
        tenants,
        booted,
        fresh,
        files,
    } = want;
    let state = if booted { "booted" } else { "new" };
    let disk = if files == Files::OnDisk {
        ""
    } else {
        "-nofiles"
    };
    let dir = root.join(format!("corpus-{devices}-{tenants}-{state}{disk}"));
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
        let corpus = Corpus {
            dir,
            phones,
            tenants,
        };
        checkpoint(&corpus.pristine_db())?;
        return Ok(corpus);
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let corpus = Corpus {
        dir: dir.clone(),
        phones: Vec::new(),
        tenants,
    };
    eprintln!("corpus: filling a database with {devices} devices in {tenants} tenants …");
    let plan = plan(devices, vendors)?;
    let took = fill(&corpus.pristine_db(), tenants, &plan, 1_000)?;
    eprintln!(
        "corpus: filled in {:.1} s ({devices} users, {} aliases, {devices} devices)",
        took.as_secs_f64(),
        2 * devices
    );
    eprintln!("corpus: rendering every boot file …");
    let started = Instant::now();
    let phones = rendering::render_all(&corpus, &plan, vendors, booted, files)?;
    checkpoint(&corpus.pristine_db())?;
    eprintln!(
        "corpus: rendered in {:.1} s; database {:.0} MB",
        started.elapsed().as_secs_f64(),
        corpus.db_bytes() as f64 / 1e6
    );
    fs::write(&index, serde_json::to_vec(&phones)?)?;
    fs::write(&stamp_file, stamp)?;
    Ok(Corpus {
        dir,
        phones,
        tenants,
    })
}

/// Moves what the database's write-ahead log holds into the database file and empties the log:
/// the copies taken of the file for each run then hold every committed write. (The store's
/// read-only connections close last, and they cannot do it.)
fn checkpoint(db: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
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
    files.push(root.join("benches/phone/rendering.rs"));
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
    /// The vendor profile's id.
    pub vendor: String,
    /// The model.
    pub model: String,
    /// The MAC.
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
            "name": tenant_name(t),
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
            let Owner {
                extension, name, ..
            } = owner(i, tenants);
            let user: UserDraft = serde_json::from_value(json!({
                "name": name,
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
