//! Every vendor's files rendered with arbitrary names: the owner's, the aliases', key labels
//! and the names of the users keys aim at, with an arbitrary model.
//!
//! Input: byte 0 picks the vendor, byte 1 the model (none, one the profile lists, or the text
//! of the last field), byte 2 the shape (aliases, keys, masking); the rest is the names,
//! separated by 0xFF (which UTF-8 never holds): owner, three aliases, a key's own label, the
//! name of the user a BLF key aims at, the model text.
//!
//! A name the domain accepts (`PrintableText`) is what the API would store; the file must then
//! render, with no control character its template does not write, well-formed XML where the
//! template makes it, each name where the same template writes a plain one, and no password in
//! a masked preview. A name the domain refuses can only come from a damaged database; a
//! `key = value` file must then still carry none of its control characters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deskprov::domain::device::DeviceBundle;
use deskprov::domain::keys::KeyRules;
use deskprov::domain::names::MAX_TEXT_CHARS;
use deskprov::domain::user::Alias;
use deskprov::domain::{Key, KeyDraft, PrintableText, SipPassword};
use deskprov::profile::provision::{render_common_file, render_device_file};
use deskprov::profile::render::RenderError;
use deskprov::profile::{FileKind, Format, Rendered, Vendor};

use crate::fixture::{self, SERVER_URL};

/// A name as it reaches the renderer: checked by the domain, or raw.
#[derive(Debug, Clone)]
struct Name {
    text: String,
    checked: bool,
}

impl Name {
    fn new(raw: &str, max_chars: usize) -> Self {
        match PrintableText::parse(raw, "name", max_chars) {
            Ok(name) => Self {
                text: name.as_str().to_owned(),
                checked: true,
            },
            Err(_) => Self {
                text: raw.to_owned(),
                checked: false,
            },
        }
    }
}

/// The shape of one case, which the plain-name rendering shares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape {
    vendor: usize,
    model: Option<String>,
    aliases: usize,
    own_label_key: bool,
    blf_key: bool,
    mask: bool,
}

/// The names of one case, by the part of the file they go to.
struct Names {
    owner: Name,
    aliases: Vec<Name>,
    key_label: Name,
    target: Name,
}

/// Renders every file of the case `data` describes and checks it.
pub fn run(data: &[u8]) {
    let vendors = fixture::vendors().all();
    let [v, m, flags, rest @ ..] = data else {
        return;
    };
    let vendor_index = usize::from(*v) % vendors.len();
    let vendor = &vendors[vendor_index];
    let parts: Vec<String> = rest
        .split(|b| *b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let part = |i: usize| parts.get(i).map_or("", String::as_str);
    let models: Vec<&String> = vendor.profile.models.keys().collect();
    let model = match usize::from(*m) {
        0 => None,
        i if i <= models.len() => Some(models[i - 1].clone()),
        _ => Some(part(6).to_owned()),
    };
    let shape = Shape {
        vendor: vendor_index,
        model,
        aliases: usize::from(flags & 3),
        own_label_key: flags & 4 != 0,
        blf_key: flags & 8 != 0,
        mask: flags & 16 != 0,
    };
    let names = Names {
        owner: Name::new(part(0), MAX_TEXT_CHARS),
        aliases: (1..=shape.aliases)
            .map(|i| Name::new(part(i), MAX_TEXT_CHARS))
            .collect(),
        key_label: Name::new(part(4), deskprov::domain::keys::MAX_KEY_LABEL_CHARS),
        target: Name::new(part(5), MAX_TEXT_CHARS),
    };
    check_case(vendor, &shape, &names);
}

fn check_case(vendor: &Vendor, shape: &Shape, names: &Names) {
    let bundle = bundle(vendor, shape, names);
    let baseline = baseline(vendor, shape);
    let used = used_names(shape, names);
    let all_checked = used.iter().all(|(_, n)| n.checked);
    let secrets = secrets(&bundle);
    let mut password_written = false;
    for (file, (plain, markers)) in fixture::files(vendor, FileKind::Device).zip(&baseline.device) {
        let result = render_device_file(&bundle, vendor, file, SERVER_URL, shape.mask)
            .map(|(rendered, _)| rendered);
        if all_checked {
            let rendered = fixture::check_rendered("device file", file, result, plain);
            for (marker, name) in &used {
                if markers.contains(marker) {
                    assert!(
                        writes(file.format, &rendered.body, &name.text),
                        "{}: name {:?} is not in the file where {marker} is:\n{}",
                        file.name,
                        name.text,
                        rendered.body
                    );
                }
            }
            password_written |= rendered.body.contains(&secrets[0]);
            if shape.mask {
                for secret in &secrets {
                    assert!(
                        !rendered.body.contains(secret.as_str()),
                        "{}: a masked preview shows a password",
                        file.name
                    );
                }
            }
        } else if file.format == Format::Text {
            match result {
                Ok(rendered) => assert_eq!(
                    crate::control_chars(&rendered.body),
                    crate::control_chars(&plain.body),
                    "{}: a name's control characters reached a key = value file",
                    file.name
                ),
                Err(RenderError::UnsafeValue(_)) => {}
                Err(e) => panic!("{}: {e}", file.name),
            }
        }
    }
    if all_checked && !shape.mask && !baseline.device.is_empty() {
        assert!(password_written, "no device file carries the SIP password");
    }
    check_common_files(vendor, shape.model.as_deref(), &baseline.common, &secrets);
}

/// Renders `vendor`'s common files for `model` and checks them against their plain rendering.
pub fn check_common_files(
    vendor: &Vendor,
    model: Option<&str>,
    plain: &[Rendered],
    secrets: &[String],
) {
    for (file, plain) in fixture::files(vendor, FileKind::Common).zip(plain) {
        let result = render_common_file(vendor, file, model, &[], SERVER_URL);
        let rendered = fixture::check_rendered("common file", file, result, plain);
        assert!(!rendered.has_secrets);
        for secret in secrets {
            assert!(
                !rendered.body.contains(secret.as_str()),
                "{}: a common file shows a password",
                file.name
            );
        }
    }
}

/// The names a case puts on the phone, each with the marker that stands for it in the plain
/// rendering.
fn used_names<'n>(shape: &Shape, names: &'n Names) -> Vec<(String, &'n Name)> {
    let mut used = vec![(marker("owner"), &names.owner)];
    for (i, alias) in names.aliases.iter().enumerate() {
        used.push((marker(&format!("alias{i}")), alias));
    }
    if shape.own_label_key {
        used.push((marker("label"), &names.key_label));
    }
    if shape.blf_key {
        used.push((marker("target"), &names.target));
    }
    used
}

/// A plain name no template or profile writes by itself.
fn marker(what: &str) -> String {
    format!("Zq{what}Zq")
}

/// Whether `name` is written in `body`: as text for `key = value` files; in a text node or an
/// attribute value, once unescaped, for XML that parses.
fn writes(format: Format, body: &str, name: &str) -> bool {
    if format == Format::Text {
        return body.contains(name);
    }
    match roxmltree::Document::parse(body) {
        Ok(doc) => doc.descendants().any(|node| {
            node.text().is_some_and(|t| t.contains(name))
                || node.attributes().any(|a| a.value().contains(name))
        }),
        // Not XML a parser reads (the phone's own dialect): the escaped text must be there.
        Err(_) => body.contains(&escape_html(name)),
    }
}

/// What askama's HTML escaper writes for `text`.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The passwords of a bundle: the owner's SIP password first, then the aliases' and the
/// phone's admin password.
fn secrets(bundle: &DeviceBundle) -> Vec<String> {
    let mut out = vec![bundle.owner.spec.sip_password.expose().to_owned()];
    out.extend(
        bundle
            .aliases
            .iter()
            .map(|a| a.sip_password.expose().to_owned()),
    );
    out.push(bundle.admin_password().0.expose().to_owned());
    out
}

/// The bundle of a case: the fixture's device of `vendor` with the case's model, aliases,
/// keys and names.
fn bundle(vendor: &Vendor, shape: &Shape, names: &Names) -> DeviceBundle {
    let mut bundle = fixture::bundle(vendor, shape.model.as_deref());
    bundle.device.seen_model = shape.model.clone();
    bundle.owner.spec.name = PrintableText::from_trusted(names.owner.text.clone());
    bundle.aliases = names
        .aliases
        .iter()
        .enumerate()
        .map(|(i, name)| alias(i, &name.text))
        .collect();
    let accounts = vendor.capacity(shape.model.as_deref());
    let rules = KeyRules { accounts };
    if shape.blf_key {
        bundle.keys.user.push(key("blf", "102", None, &rules));
        bundle
            .keys
            .names
            .insert("102".to_owned(), names.target.text.clone());
    }
    if shape.own_label_key {
        let mut k = key("speed_dial", "5551234", Some("Speed"), &rules);
        k.label = Some(PrintableText::from_trusted(names.key_label.text.clone()));
        bundle.keys.user.push(k);
    }
    bundle
}

fn alias(i: usize, name: &str) -> Alias {
    Alias {
        id: 30 + i as i64,
        user_id: 7,
        position: 1 + i as i64,
        name: name.to_owned(),
        sip_username: format!("fuzzexample_101_{}", i + 2),
        sip_password: SipPassword::from_trusted(format!("Alias-Pass-000{i}")),
    }
}

fn key(kind: &str, value: &str, label: Option<&str>, rules: &KeyRules) -> Key {
    KeyDraft {
        kind: kind.to_owned(),
        value: Some(value.to_owned()),
        label: label.map(str::to_owned),
        position: None,
        module: None,
        external: false,
    }
    .check(rules)
    .expect("a valid key")
}

/// A case's files rendered with plain names (its markers), and which markers each shows.
struct Baseline {
    device: Vec<(Rendered, Vec<String>)>,
    common: Vec<Rendered>,
}

/// The plain rendering of `shape`, kept for the next inputs of the same shape.
fn baseline(vendor: &Vendor, shape: &Shape) -> Arc<Baseline> {
    static CACHE: Mutex<Option<HashMap<Shape, Arc<Baseline>>>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(found) = cache.get(shape) {
        return found.clone();
    }
    // Arbitrary model texts make arbitrarily many shapes: start again rather than grow.
    if cache.len() >= 1024 {
        cache.clear();
    }
    let names = Names {
        owner: Name::new(&marker("owner"), MAX_TEXT_CHARS),
        aliases: (0..shape.aliases)
            .map(|i| Name::new(&marker(&format!("alias{i}")), MAX_TEXT_CHARS))
            .collect(),
        key_label: Name::new(&marker("label"), MAX_TEXT_CHARS),
        target: Name::new(&marker("target"), MAX_TEXT_CHARS),
    };
    let bundle = bundle(vendor, shape, &names);
    let markers: Vec<String> = used_names(shape, &names)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let device = fixture::files(vendor, FileKind::Device)
        .map(|file| {
            let (rendered, _) = render_device_file(&bundle, vendor, file, SERVER_URL, shape.mask)
                .unwrap_or_else(|e| panic!("{} with plain names: {e}", file.name));
            let shown = markers
                .iter()
                .filter(|m| rendered.body.contains(m.as_str()))
                .cloned()
                .collect();
            (rendered, shown)
        })
        .collect();
    let common = fixture::files(vendor, FileKind::Common)
        .map(|file| {
            render_common_file(vendor, file, shape.model.as_deref(), &[], SERVER_URL)
                .unwrap_or_else(|e| panic!("{} with plain names: {e}", file.name))
        })
        .collect();
    let found = Arc::new(Baseline { device, common });
    cache.insert(shape.clone(), found.clone());
    found
}

/// The plain rendering of `vendor`'s common files for `model` (for the User-Agent target).
pub fn plain_common_files(vendor: &Vendor, model: Option<&str>) -> Vec<Rendered> {
    let index = fixture::vendors()
        .all()
        .iter()
        .position(|v| v.id() == vendor.id())
        .expect("a built-in vendor");
    let shape = Shape {
        vendor: index,
        model: model.map(str::to_owned),
        aliases: 0,
        own_label_key: false,
        blf_key: false,
        mask: false,
    };
    baseline(vendor, &shape).common.clone()
}

/// Renders the device files of `vendor` for a phone that says it is `model`, with plain
/// names, and checks them against the registered model's (for the User-Agent target).
pub fn check_device_files_for_model(vendor: &Vendor, model: Option<&str>) {
    let index = fixture::vendors()
        .all()
        .iter()
        .position(|v| v.id() == vendor.id())
        .expect("a built-in vendor");
    let shape = Shape {
        vendor: index,
        model: model.map(str::to_owned),
        aliases: 1,
        own_label_key: false,
        blf_key: true,
        mask: false,
    };
    let names = Names {
        owner: Name::new("Owner Name", MAX_TEXT_CHARS),
        aliases: vec![Name::new("Alias Name", MAX_TEXT_CHARS)],
        key_label: Name::new("Label", MAX_TEXT_CHARS),
        target: Name::new("Target Name", MAX_TEXT_CHARS),
    };
    check_case(vendor, &shape, &names);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presence check has something to check: every vendor writes the owner's name into
    /// a device file, and some vendor writes each kind of name.
    #[test]
    fn plain_renderings_show_the_names() {
        let mut shown = std::collections::BTreeSet::new();
        for (index, vendor) in fixture::vendors().all().iter().enumerate() {
            let models: Vec<&String> = vendor.profile.models.keys().collect();
            let shape = Shape {
                vendor: index,
                model: models.last().map(|m| m.to_string()),
                aliases: 1,
                own_label_key: true,
                blf_key: true,
                mask: false,
            };
            let plain = baseline(vendor, &shape);
            let markers: Vec<&String> = plain.device.iter().flat_map(|(_, m)| m).collect();
            assert!(markers.contains(&&marker("owner")), "{}", vendor.id());
            shown.extend(markers.into_iter().cloned());
        }
        for what in ["owner", "alias0", "label", "target"] {
            assert!(shown.contains(&marker(what)), "no vendor shows {what}");
        }
    }

    /// A name with a line break, from a damaged database, never reaches a `key = value` file.
    #[test]
    fn refused_names_stay_out_of_text_files() {
        let mut data = vec![0, 0, 0];
        data.extend_from_slice(b"Bob\naccount.1.sip_server.1.address = evil");
        for v in 0..fixture::vendors().all().len() {
            data[0] = v as u8;
            run(&data);
        }
    }
}
