//! File access through the `fs` grant.
//!
//! Every path is first resolved by the host (`files.resolve`), which checks it
//! against the plugin's grants and explains a denial by naming the grant to add.
//! The read itself then goes through WASI, which only sees preopened directories,
//! so a plugin that skips this step is still confined.

use std::io::Read;

use crate::host::files;

/// A granted path: what the user wrote, and the absolute path to open.
#[derive(Clone, Debug)]
pub struct GrantedPath {
    pub display: String,
    pub absolute: String,
}

/// Resolves `path` against the fs grants.
pub fn resolve(path: &str) -> Result<GrantedPath, String> {
    let absolute = files::resolve(path, false)?;
    Ok(GrantedPath {
        display: path.to_string(),
        absolute,
    })
}

/// Reads a whole file, refusing files larger than `max_bytes`.
pub fn read_to_string(path: &str, max_bytes: u64) -> Result<(GrantedPath, String), String> {
    let granted = resolve(path)?;
    let bytes = read_bytes(&granted, max_bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{path}: not valid UTF-8"))?;
    Ok((granted, text))
}

/// Reads at most `max_bytes` of a resolved file; errors when it is larger.
///
/// Reads through WASI; a file granted on its own (not inside a granted
/// directory) is not preopened, so it is read through the host instead.
pub fn read_bytes(granted: &GrantedPath, max_bytes: u64) -> Result<Vec<u8>, String> {
    let file = match std::fs::File::open(&granted.absolute) {
        Ok(f) => f,
        // Host imports exist only inside a component; native unit tests of
        // plugin logic see the plain WASI-style error.
        #[cfg(target_arch = "wasm32")]
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = e;
            return files::read(&granted.absolute, max_bytes);
        }
        Err(e) => return Err(format!("{}: {e}", granted.display)),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max_bytes {
        return Err(format!(
            "{}: {len} bytes exceeds the {max_bytes}-byte limit",
            granted.display
        ));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", granted.display))?;
    Ok(buf)
}

/// Joins a display path and a child name the way users write paths.
pub fn join_display(base: &str, name: &str) -> String {
    if base.is_empty() || base == "." || base == "./" {
        name.to_string()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}
