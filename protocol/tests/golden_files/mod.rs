//! What every golden-vector test shares: the JSON form of state tables, the client's view of a
//! server table, and keeping a folder of golden files in step with what the code writes.
//! Used by `protocol/tests/golden.rs` and `server/tests/golden_games.rs` (the reference games).
#![allow(dead_code)] // each test crate uses its own part

use std::collections::BTreeMap;
use std::path::Path;

use protocol::schema::Descriptor;
use protocol::state::{EntityId, Kind, Plan, StateTable};
use serde_json::{Value as Json, json};

/// What a client whose player is `own` holds of `t`: other entities' private fields are 0 (it
/// never receives them).
pub fn view(plan: &Plan, t: &StateTable, own: Option<EntityId>) -> StateTable {
    let mut v = t.clone();
    let others: Vec<(u32, u16)> = t
        .iter()
        .filter(|e| Some(e.id) != own)
        .map(|e| (e.id.index, e.ty))
        .collect();
    for (index, ty) in others {
        let Some(tp) = plan.types.get(usize::from(ty)) else {
            continue;
        };
        for &f in &tp.owner {
            if tp.fields[usize::from(f)].kind == Kind::Str {
                v.set_string(index, f, "").unwrap();
            } else {
                v.values_mut(index).unwrap()[usize::from(f)] = 0;
            }
        }
    }
    v
}

/// A table as JSON: `[{index, version, type, values (one per field of its type), strings
/// {field id: text}}]` in slot order.
pub fn table_json(d: &Descriptor, t: &StateTable) -> Json {
    Json::Array(
        t.iter()
            .map(|e| {
                let fields = &d.types[usize::from(e.ty)].fields;
                let strings: BTreeMap<String, String> = fields
                    .iter()
                    .filter(|f| f.coding.is_str())
                    .map(|f| (f.id.to_string(), t.string(e.id.index, f.id).to_owned()))
                    .filter(|(_, s)| !s.is_empty())
                    .collect();
                json!({
                    "index": e.id.index,
                    "version": e.id.version,
                    "type": e.ty,
                    "values": &e.values[..fields.len()],
                    "strings": strings,
                })
            })
            .collect(),
    )
}

/// The table a JSON form describes: the golden files must be complete, as the browser's tests
/// build their tables from them.
pub fn table_from_json(plan: &Plan, j: &Json) -> StateTable {
    let mut t = plan.new_table();
    for e in j.as_array().unwrap() {
        let index = e["index"].as_u64().unwrap() as u32;
        let ty = e["type"].as_u64().unwrap() as u16;
        let version = e["version"].as_u64().unwrap() as u32;
        let cells = t.insert(EntityId { index, version }, ty).unwrap();
        for (i, v) in e["values"].as_array().unwrap().iter().enumerate() {
            cells[i] = v.as_i64().unwrap() as i32;
        }
        for (f, s) in e["strings"].as_object().unwrap() {
            t.set_string(index, f.parse().unwrap(), s.as_str().unwrap())
                .unwrap();
        }
    }
    t
}

pub fn pretty(v: &Json) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap();
    s.push(b'\n');
    s
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One golden vector: its bytes and what they mean.
pub struct Vector {
    pub name: String,
    pub bytes: Vec<u8>,
    pub meaning: Json,
}

/// Keeps `dir` equal to `vectors`: `index.json` (the protocol version, and per vector its
/// name and the `index_keys` of its meaning), then `NAME.bin` and `NAME.json` (the meaning
/// with the bytes in hex) for each. See `check_dir`.
pub fn check_vectors(dir: &Path, vectors: &[Vector], index_keys: &[&str], advice: &str) {
    let entry = |v: &Vector| {
        let mut e = json!({ "name": v.name });
        for &k in index_keys {
            e[k] = v.meaning[k].clone();
        }
        e
    };
    let index = json!({
        "protocol_version": protocol::PROTOCOL_VERSION,
        "vectors": vectors.iter().map(entry).collect::<Vec<_>>(),
    });
    let mut files = vec![("index.json".to_string(), pretty(&index))];
    for v in vectors {
        let mut meaning = v.meaning.clone();
        meaning["hex"] = json!(hex(&v.bytes));
        files.push((format!("{}.bin", v.name), v.bytes.clone()));
        files.push((format!("{}.json", v.name), pretty(&meaning)));
    }
    check_dir(dir, &files, advice);
}

/// Keeps the files directly in `dir` equal to `files` (name, bytes). With `UPDATE_GOLDEN` set it
/// rewrites them and deletes stale ones; otherwise it fails on any difference, naming the file
/// and giving `advice`. Folders inside `dir` are left alone.
pub fn check_dir(dir: &Path, files: &[(String, Vec<u8>)], advice: &str) {
    let on_disk: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    let stale: Vec<&String> = on_disk
        .iter()
        .filter(|n| !files.iter().any(|(f, _)| f == *n))
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(dir).unwrap();
        for name in stale {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    assert!(stale.is_empty(), "stale golden files {stale:?}. {advice}");
    for (name, bytes) in files {
        let on_disk = std::fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            &on_disk == bytes,
            "golden file {} differs from the current encoding. {advice}",
            dir.join(name).display()
        );
    }
}
