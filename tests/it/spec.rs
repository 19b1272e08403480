//! docs/checkpoint-format.md §8 against real files: the tensor index table is read from the
//! document alone, and every tensor of a checkpoint of every kind (autoencoder with each norm,
//! dec, vae, ncf of each model kind with and without customer features, policy) must match
//! exactly one row of its kind with the documented shape.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use teleseg::checkpoint::Checkpoint;

use crate::common::{dataset, run, small_dec_job, teleseg};

/// One row of the index: the kinds it applies to, the name pattern and the shape expressions.
struct Row {
    kinds: Vec<String>,
    name: String,
    shape: Vec<String>,
}

/// The rows of the §8 table, parsed from the document.
fn index() -> Vec<Row> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checkpoint-format.md"),
    )
    .unwrap();
    let section = doc
        .split("## 8. Tensor index")
        .nth(1)
        .expect("docs/checkpoint-format.md has a section 8. Tensor index");
    let rows: Vec<Row> = section
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 3, "a row of kinds | tensor | shape: {l}");
            let shape = cells[2]
                .trim_matches('`')
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or_else(|| panic!("a shape in brackets: {l}"));
            Row {
                kinds: cells[0].split_whitespace().map(str::to_string).collect(),
                name: cells[1].trim_matches('`').to_string(),
                shape: shape.split(',').map(|s| s.trim().to_string()).collect(),
            }
        })
        .collect();
    assert!(rows.len() > 40, "only {} rows parsed", rows.len());
    rows
}

/// `pattern` with `{i}` against `name`: the layer index, or None when they do not match.
fn matches(pattern: &str, name: &str) -> Option<Option<usize>> {
    match pattern.split_once("{i}") {
        None => (pattern == name).then_some(None),
        Some((head, tail)) => {
            let mid = name.strip_prefix(head)?.strip_suffix(tail)?;
            mid.parse().ok().map(Some)
        }
    }
}

/// A shape expression: a sum of terms, each an integer, a scalar symbol or `list[i]` /
/// `list[i+c]` (`i` the row's layer index).
fn eval(
    expr: &str,
    i: Option<usize>,
    scalars: &HashMap<&str, usize>,
    lists: &HashMap<&str, Vec<usize>>,
) -> usize {
    let (mut terms, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for ch in expr.chars() {
        match ch {
            '+' if depth == 0 => terms.push(std::mem::take(&mut cur)),
            '[' | ']' => {
                depth += if ch == '[' { 1 } else { -1 };
                cur.push(ch);
            }
            _ => cur.push(ch),
        }
    }
    terms.push(cur);
    terms
        .iter()
        .map(|t| {
            let t = t.trim();
            if let Ok(n) = t.parse::<usize>() {
                return n;
            }
            if let Some((list, idx)) = t.strip_suffix(']').and_then(|t| t.split_once('[')) {
                let offset = match idx.trim() {
                    "i" => 0,
                    other => other
                        .strip_prefix("i+")
                        .and_then(|c| c.trim().parse::<usize>().ok())
                        .unwrap_or_else(|| panic!("index `{idx}` in `{expr}`")),
                };
                let l = &lists[list];
                let at = i.expect("a row with a list index has {i} in its name") + offset;
                return *l
                    .get(at)
                    .unwrap_or_else(|| panic!("`{expr}`: {list}[{at}] is outside {l:?}"));
            }
            *scalars
                .get(t)
                .unwrap_or_else(|| panic!("unknown symbol `{t}` in `{expr}`"))
        })
        .sum()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

fn list_of(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(usize_of).collect()
}

/// The symbols of §8 for a checkpoint, from its metadata only.
fn symbols(
    ck: &Checkpoint,
) -> (
    HashMap<&'static str, usize>,
    HashMap<&'static str, Vec<usize>>,
) {
    let model: Value = ck.meta_json("teleseg.model").unwrap();
    let (mut s, mut l) = (HashMap::new(), HashMap::new());
    if let Ok(schema) = ck.meta_json::<Value>("teleseg.schema") {
        let cols = schema["columns"].as_array().unwrap();
        let role = |r: &str| cols.iter().filter(|c| c["role"] == r).count();
        let derived = schema["derived"].as_array().map_or(0, Vec::len);
        s.insert("n_numeric", role("numeric") + derived);
        s.insert("n_binary", role("binary"));
    }
    match ck.kind() {
        "autoencoder" | "dec" => {
            let mut enc = vec![usize_of(&model["input"])];
            enc.extend(list_of(&model["hidden"]));
            enc.push(usize_of(&model["latent"]));
            s.insert("latent", usize_of(&model["latent"]));
            l.insert("dec", enc.iter().rev().copied().collect());
            l.insert("enc", enc);
            if let Ok(head) = ck.meta_json::<Value>("teleseg.dec") {
                s.insert("k", usize_of(&head["k"]));
            }
        }
        "vae" => {
            let c = usize_of(&model["n_segments"])
                + model["n_target_classes"].as_u64().unwrap_or(0) as usize;
            let (width, latent) = (usize_of(&model["width"]), usize_of(&model["latent"]));
            let hidden = list_of(&model["hidden"]);
            let mut venc = vec![width + c];
            venc.extend(&hidden);
            venc.push(2 * latent);
            let mut vdec = vec![latent + c];
            vdec.extend(hidden.iter().rev());
            vdec.push(width);
            l.insert("venc", venc);
            l.insert("vdec", vdec);
            s.insert("sigma", usize_of(&model["n_numeric"]).max(1));
        }
        "ncf" => {
            let mlp = list_of(&model["mlp_layers"]);
            let (f, e, t) = (
                usize_of(&model["factors"]),
                mlp[0] / 2,
                *mlp.last().unwrap(),
            );
            let (p, u) = match model["kind"].as_str().unwrap() {
                "gmf" => (f, f),
                "mlp" => (t, e),
                "neumf" => (f + t, f + e),
                "mf" => (0, f + 1),
                other => panic!("ncf kind {other}"),
            };
            s.extend([
                ("users", usize_of(&model["n_users"])),
                ("items", usize_of(&model["n_items"])),
                ("F", f),
                ("E", e),
                ("T", t),
                ("P", p),
                ("U", u),
                ("X", model["user_features"].as_u64().unwrap_or(0) as usize),
            ]);
            l.insert("mlp", mlp);
        }
        "policy" => {
            let features: Vec<Value> = ck.meta_json("teleseg.features").unwrap();
            let categories = model["layout"]["categories"].as_array().unwrap().len();
            s.insert("arms", model["arms"].as_array().unwrap().len());
            let dim = 1 + features.len() + categories;
            s.insert("dim", dim);
            let levels = model["factors"]["levels"].as_array().map_or(0, Vec::len);
            s.insert("D", dim + s["arms"] + levels * dim);
        }
        other => panic!("no symbols for kind {other}"),
    }
    (s, l)
}

/// Checks every tensor of `path` against the index; returns the names checked.
fn check(path: &Path, rows: &[Row]) -> usize {
    let ck = Checkpoint::read(path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kind = ck.kind().to_string();
    // A kind with variants (the policy's reward model) also matches rows of `kind(variant)`.
    let model: Value = ck.meta_json("teleseg.model").unwrap();
    let variant = format!("{kind}({})", model["model"].as_str().unwrap_or(""));
    let (scalars, lists) = symbols(&ck);
    let infos = ck.tensor_infos();
    for (name, shape, _) in &infos {
        let bare = match kind.as_str() {
            "dec" => name.strip_prefix("autoencoder.").unwrap_or(name),
            _ => name.as_str(),
        };
        let hits: Vec<(&Row, Option<usize>)> = rows
            .iter()
            .filter(|r| r.kinds.contains(&kind) || r.kinds.contains(&variant))
            .filter_map(|r| matches(&r.name, bare).map(|i| (r, i)))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{}: tensor `{name}` ({kind}) matches {} rows of §8",
            path.display(),
            hits.len()
        );
        let (row, i) = hits[0];
        let want: Vec<usize> = row
            .shape
            .iter()
            .map(|e| eval(e, i, &scalars, &lists))
            .collect();
        assert_eq!(
            shape,
            &want,
            "{}: `{name}` has shape {shape:?}, §8 says [{}] = {want:?}",
            path.display(),
            row.shape.join(", ")
        );
    }
    infos.len()
}

/// `teleseg train <family>` (flex; 2 short epochs for the families trained by epochs) with
/// `settings` into `out/<name>`; returns its model file.
fn train(family: &str, out: &Path, name: &str, settings: &[(&str, String)]) -> PathBuf {
    let mut cmd = teleseg();
    cmd.args(["--backend", "flex", "-q", "train", family]);
    let short: &[(&str, &str)] = match family {
        "policy" => &[],
        _ => &[
            ("train.epochs", "2"),
            ("train.warmup_epochs", "0"),
            ("train.min_steps", "0"),
        ],
    };
    let run_name = format!("{name:?}");
    let output = [("output.dir", quoted(out)), ("output.run_name", run_name)];
    for (k, v) in short
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .chain(output)
        .chain(settings.iter().cloned())
    {
        cmd.args(["--set", &format!("{k}={v}")]);
    }
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 0, "train {family} {name}: {err}");
    out.join(name).join("model.safetensors")
}

fn quoted(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

#[test]
fn every_checkpoint_kind_matches_the_tensor_index() {
    let rows = index();
    let d = dataset();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let customers = [
        ("data.customers", quoted(&d.join("customers.csv"))),
        ("data.schema", quoted(&d.join("schema.toml"))),
    ];
    let with_customers = |extra: &[(&'static str, String)]| {
        customers
            .iter()
            .cloned()
            .chain(extra.iter().cloned())
            .collect::<Vec<_>>()
    };
    let mut files: Vec<PathBuf> = Vec::new();
    // Autoencoders with each norm.
    for norm in ["none", "layer", "batch"] {
        let s = with_customers(&[
            ("model.norm", format!("{norm:?}")),
            ("model.hidden", "[16, 8]".into()),
            ("model.latent", "3".into()),
        ]);
        files.push(train("autoencoder", out, norm, &s));
    }
    // DEC (with its own pretraining).
    let (code, _, err) = run(
        small_dec_job(&d.join("customers.csv"), &d.join("schema.toml"), out)
            .args(["--set", "output.run_name=\"dec\""])
            // k differs from the latent width (4), so a transposed shape cannot pass.
            .args(["--set", "dec.k=3"]),
    );
    assert_eq!(code, 0, "{err}");
    files.push(out.join("dec/model.safetensors"));
    // A VAE conditioned on segments and on the target.
    let s = with_customers(&[
        ("vae.segments", quoted(&d.join("personas.csv"))),
        ("vae.hidden", "[16]".into()),
    ]);
    files.push(train("vae", out, "vae", &s));
    // NCF: every model kind, and NeuMF with customer features.
    let interactions = ("data.interactions", quoted(&d.join("interactions.csv")));
    for kind in ["gmf", "mlp", "neumf", "mf"] {
        let s = [interactions.clone(), ("model.kind", format!("{kind:?}"))];
        files.push(train("ncf", out, &format!("ncf-{kind}"), &s));
    }
    let s = with_customers(&[interactions]);
    files.push(train("ncf", out, "ncf-features", &s));
    // A contact policy.
    let s = with_customers(&[
        ("policy.bootstrap", "50".into()),
        ("policy.samples", "50".into()),
    ]);
    files.push(train("policy", out, "policy", &s));
    let mut s = s;
    s.push(("policy.model", "\"disjoint\"".into()));
    files.push(train("policy", out, "policy-disjoint", &s));

    let mut seen_norms = (false, false);
    for f in &files {
        let n = check(f, &rows);
        assert!(n > 0, "{}: no tensors", f.display());
        let ck = Checkpoint::read(f, None).unwrap();
        let names: Vec<String> = ck.tensor_infos().into_iter().map(|t| t.0).collect();
        seen_norms.0 |= names.iter().any(|n| n.contains(".Layer."));
        seen_norms.1 |= names.iter().any(|n| n.contains(".Batch.running_var"));
    }
    assert!(
        seen_norms.0 && seen_norms.1,
        "the layer and batch norm files were checked"
    );
}
