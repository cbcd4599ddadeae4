//! Rendering a corpus: every boot file of every device as deskprov answers it, written to the
//! folder nginx serves (or only measured), and the device states of the phones' first boots.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use deskprov::domain::device_state::DeviceState;
use deskprov::domain::{Device, DeviceBundle};
use deskprov::profile::provision::{render_common_file, render_device_file};
use deskprov::profile::{FileKind, FileSpec, UaInfo, Vendors};
use deskprov::store::device_state::{self, Batch, Binding, StateWrite, Version};
use deskprov::store::{Store, devices};

use crate::corpus::{Corpus, File, Files, PUBLIC_URL, Phone, Planned, boot_sequence, user_agent};

/// Device states written per transaction while rendering.
const STATE_BATCH: usize = 5_000;

/// Renders every boot file of every device as deskprov answers it and, with
/// [`Files::OnDisk`], writes it to `www/`.
///
/// With `booted`, every device is then recorded as having fetched its boot files once (through
/// the device-state writer's store function): the database of a site whose phones have booted
/// before, as after a power cut. Without, every device is still waiting for its first fetch.
pub fn render_all(
    corpus: &Corpus,
    plan: &[Planned],
    vendors: &Vendors,
    booted: bool,
    files: Files,
) -> anyhow::Result<Vec<Phone>> {
    let www = corpus.www();
    let mut out = Out {
        www: (files == Files::OnDisk).then_some(www.as_path()),
        common: BTreeMap::new(),
        records: Vec::new(),
    };
    if let Some(www) = out.www {
        fs::create_dir_all(www)?;
    }
    let store = Store::open(&corpus.pristine_db())?;
    let mut phones = Vec::with_capacity(plan.len());
    for (n, p) in plan.iter().enumerate() {
        phones.push(render_phone(&store, vendors, p, &mut out)?);
        if out.records.len() >= STATE_BATCH || n + 1 == plan.len() {
            let batch = Batch {
                states: std::mem::take(&mut out.records),
                events: Vec::new(),
            };
            if booted {
                store.write_blocking(|tx| device_state::write(tx, &batch))?;
            }
        }
        if (n + 1) % 100_000 == 0 {
            eprintln!("corpus: {} devices rendered", n + 1);
        }
    }
    if phones.is_empty() {
        bail!("no devices");
    }
    Ok(phones)
}

/// Where rendered files go: the folder nginx serves (if any), the common files seen so far,
/// the device states of the phones' first boots.
struct Out<'a> {
    www: Option<&'a Path>,
    common: BTreeMap<String, String>,
    records: Vec<StateWrite>,
}

/// Renders one device's boot files.
fn render_phone(
    store: &Store,
    vendors: &Vendors,
    p: &Planned,
    out: &mut Out<'_>,
) -> anyhow::Result<Phone> {
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
        let len = render_file(vendors, &bundle, (&ua, &info), (name, *spec), out)?;
        boot.push(File {
            name: name.clone(),
            len,
        });
    }
    Ok(Phone {
        mac: p.mac.lower12(),
        vendor: p.vendor.clone(),
        model: p.model.clone(),
        ua,
        main: sequence
            .iter()
            .position(|s| s == &main)
            .context("main file")?,
        boot,
    })
}

/// Renders one boot file of a device (`phone`: its User-Agent and what it says) and returns
/// the body's length.
fn render_file(
    vendors: &Vendors,
    bundle: &DeviceBundle,
    phone: (&str, &UaInfo),
    file: (&String, &FileSpec),
    out: &mut Out<'_>,
) -> anyhow::Result<usize> {
    let ((ua, info), (name, spec)) = (phone, file);
    let vendor = vendors.get(&bundle.device.vendor).context("vendor")?;
    let matched = vendors
        .match_file(name)
        .into_iter()
        .find(|m| m.vendor.id() == vendor.id())
        .with_context(|| format!("{name} does not match {}", vendor.id()))?;
    ensure!(
        std::ptr::eq(matched.file, spec),
        "{name} matches another pattern"
    );
    if spec.kind == FileKind::Device {
        let (rendered, _) = render_device_file(bundle, vendor, spec, PUBLIC_URL, false)?;
        if let Some(www) = out.www {
            write(&www.join(name), &rendered.body)?;
        }
        out.records
            .push(first_boot(&bundle.device, ua, info, name, &rendered.etag));
        return Ok(rendered.body.len());
    }
    // No URL key: common files are rendered with built-in settings only.
    let model = matched
        .model_for(name, info.model.as_deref())
        .or_else(|| info.model.clone());
    let rendered = render_common_file(vendor, spec, model.as_deref(), &[], PUBLIC_URL)?;
    match out.common.get(name) {
        Some(body) => ensure!(
            *body == rendered.body,
            "{name} differs between models: a static server cannot serve it"
        ),
        None => {
            if let Some(www) = out.www {
                write(&www.join(name), &rendered.body)?;
            }
            out.common.insert(name.clone(), rendered.body.clone());
        }
    }
    Ok(rendered.body.len())
}

/// The state a phone's first fetch of `file` (with body hash `etag`) leaves.
fn first_boot(device: &Device, ua: &str, info: &UaInfo, file: &str, etag: &str) -> StateWrite {
    let now = chrono::Utc::now();
    StateWrite {
        device_id: device.id,
        state: DeviceState {
            first_fetch_at: Some(now),
            last_fetch_at: Some(now),
            last_ip: Some([127, 0, 0, 1].into()),
            user_agent: Some(ua.into()),
            model: info.model.as_deref().map(Into::into),
            firmware: info.firmware.as_deref().map(Into::into),
            last_file: Some(file.into()),
            files: Vec::new(),
        },
        binding: Some(Binding {
            at: now,
            ip: "127.0.0.1".into(),
            cert: None,
        }),
        versions: vec![Version {
            file: file.to_owned(),
            body_hash: etag.to_owned(),
            server_url: PUBLIC_URL.into(),
            at: now,
        }],
    }
}

fn write(path: &Path, body: &str) -> anyhow::Result<()> {
    let mut f = fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(body.as_bytes())?;
    Ok(())
}
