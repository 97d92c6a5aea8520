//! The on-disk layout of `saex groups build`, seed 000's own, so its cells run unchanged on
//! it with `AGGREGATED_DIR = DIR/aggregated` and `FEATURES_DIR = DIR/features`:
//! - `DIR/aggregated/{strategy}/per_role.npz`: `features` float32 `[n_groups, d_sae]`, the
//!   mean of each group's response vectors, and `role_names` (fixed-width unicode `<U`, so
//!   numpy needs no `allow_pickle`);
//! - `DIR/features/{group}.npz`: `{strategy}_features` float32 `[n_responses, d_sae]`, one
//!   row per response, for every strategy (mean, max, last, sum);
//! - `DIR/groups.json`: what was built from what (model, SAE, data, counts, skipped lines).
//!
//! The matrices are dense because the seed's format is: memory and disk are
//! `n_responses × d_sae × 4 strategies × 4 bytes`. This module is the only reader and writer
//! of these files. `.npy` is encoded by `npyz`; the `.npz` container is the workspace's
//! `zip` (entries stored, as `np.savez` writes them).

use std::io::{Read, Write};
use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{Error, Result};

/// The strategies a build writes, in this order.
pub const STRATEGIES: [&str; 4] = ["mean", "max", "last", "sum"];

fn file_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::File { path: path.display().to_string(), message: e.to_string() }
}

fn npy_f32(rows: usize, cols: usize, data: &[f32]) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&[rows as u64, cols as u64]).writer(&mut buf).begin_nd()?;
    w.extend(data.iter().copied())?;
    w.finish()?;
    Ok(buf)
}

fn npy_str(items: &[String]) -> std::io::Result<Vec<u8>> {
    let width = items.iter().map(|s| s.chars().count()).max().unwrap_or(1).max(1);
    let type_str: npyz::TypeStr = format!("<U{width}").parse().map_err(std::io::Error::other)?;
    let mut buf = Vec::new();
    let mut w =
        npyz::WriteOptions::<str>::new().dtype(npyz::DType::Plain(type_str)).shape(&[items.len() as u64]).writer(&mut buf).begin_nd()?;
    for s in items {
        w.push(s.as_str())?;
    }
    w.finish()?;
    Ok(buf)
}

/// Write a `.npz` of `(name, npy bytes)` members atomically.
fn write_npz(path: &Path, members: &[(String, Vec<u8>)]) -> Result<()> {
    crate::atomic::write_with(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| file_err(tmp, e))?;
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in members {
            z.start_file(format!("{name}.npy"), opts).map_err(|e| file_err(tmp, e))?;
            z.write_all(bytes).map_err(|e| file_err(tmp, e))?;
        }
        z.finish().map_err(|e| file_err(tmp, e))?;
        Ok(())
    })
}

/// One member of a `.npz` as raw npy bytes.
fn npz_member(path: &Path, name: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| file_err(path, format!("not a .npz (zip) file: {e}")))?;
    let mut entry = z.by_name(&format!("{name}.npy")).map_err(|_| file_err(path, format!("no array `{name}`")))?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| file_err(path, e))?;
    Ok(bytes)
}

/// A float32 matrix `[rows, cols]` from member `name` of `path`.
pub fn read_matrix(path: &Path, name: &str) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = npz_member(path, name)?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| file_err(path, format!("`{name}` is not a .npy array: {e}")))?;
    let shape = npy.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(file_err(path, format!("`{name}` has shape {shape:?}, expected [rows, d_sae]")));
    };
    let data = npy.into_vec::<f32>().map_err(|e| file_err(path, format!("`{name}` is not float32: {e}")))?;
    Ok((rows as usize, cols as usize, data))
}

/// The group names of a `per_role.npz`.
pub fn read_names(path: &Path) -> Result<Vec<String>> {
    let bytes = npz_member(path, "role_names")?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| file_err(path, format!("`role_names` is not a .npy array: {e}")))?;
    npy.into_vec::<String>().map_err(|e| file_err(path, format!("`role_names` is not an array of strings (<U): {e}")))
}

/// Write `per_role.npz`: `features [n_groups, d_sae]` and `role_names`.
pub fn write_per_role(path: &Path, names: &[String], d_sae: usize, features: &[Vec<f32>]) -> Result<()> {
    let flat: Vec<f32> = features.iter().flatten().copied().collect();
    let io = |e: std::io::Error| file_err(path, e);
    write_npz(
        path,
        &[("features".into(), npy_f32(names.len(), d_sae, &flat).map_err(io)?), ("role_names".into(), npy_str(names).map_err(io)?)],
    )
}

/// Write a group's `features/{group}.npz`: one `[n_responses, d_sae]` matrix per strategy.
pub fn write_responses(path: &Path, d_sae: usize, per_strategy: &[(&str, Vec<f32>)]) -> Result<()> {
    let io = |e: std::io::Error| file_err(path, e);
    let members = per_strategy
        .iter()
        .map(|(s, flat)| Ok((format!("{s}_features"), npy_f32(flat.len() / d_sae.max(1), d_sae, flat).map_err(io)?)))
        .collect::<Result<Vec<_>>>()?;
    write_npz(path, &members)
}

/// A group name as a file name: the seed opens `FEATURES_DIR / f"{role}.npz"`, so the name
/// must be usable as is.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
        return Err(format!("group {name:?} cannot be a file name (the seed opens features/{{group}}.npz): use letters, digits, - or _"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npz_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("per_role.npz");
        let names = vec!["doctor".to_string(), "pirate captain".to_string()];
        write_per_role(&p, &names, 3, &[vec![1.0, 2.0, 3.0], vec![0.5, 0.0, -1.0]]).unwrap();
        assert_eq!(read_names(&p).unwrap(), names);
        assert_eq!(read_matrix(&p, "features").unwrap(), (2, 3, vec![1.0, 2.0, 3.0, 0.5, 0.0, -1.0]));
        assert!(read_matrix(&p, "nope").unwrap_err().to_string().contains("no array `nope`"));
        assert!(check_name("a/b").is_err() && check_name("..").is_err() && check_name("biologist").is_ok());
    }
}
