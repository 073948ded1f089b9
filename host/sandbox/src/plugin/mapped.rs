//! Built-ins' precompiled code mapped from the gate executable itself.
//!
//! `Component::deserialize` copies its bytes into fresh memory: for a
//! built-in that is 5-9 MB copied and faulted in on every run, about 40% of
//! a one-check `gate evaluate`. The same bytes are already in the
//! executable's file, page-aligned (host/sandbox/build.rs), so instead:
//!
//! - the range of the executable holding them is found in
//!   `/proc/self/maps` and mapped read-only and private from
//!   `/proc/self/exe`, the very inode being executed: the kernel refuses
//!   to let anyone write to a running executable, so these are the bytes
//!   the loader mapped, and the first and last pages are compared with them
//!   all the same;
//! - wasmtime uses the mapping in place (`Component::deserialize_raw_in_file`,
//!   vendor/README.md). Its code never writes to it (a precompiled image has
//!   no relocations), and [`CodeMemory`] makes its text executable through
//!   the engine's custom code-memory hook;
//! - wasmtime is told which file range the mapping is, so every instance
//!   maps its initial memory copy-on-write from the executable's file too
//!   (the wasm data section, page-aligned in the precompiled image), where
//!   it would otherwise write the image into a memfd in every process: 2.5 MB
//!   for the pre-initialized security built-in;
//! - wasmtime registers code by address, so a mapping serves one live
//!   component: the runtime loads each built-in once and shares that
//!   component (`Runtime::component`). When the component is dropped its
//!   pages are given back (`MADV_DONTNEED`), but the mapping is never
//!   unmapped, since wasmtime may still read its unwind tables while it
//!   retires it; it stays readable and executable, never writable.
//!
//! Where any step fails (another architecture, an engine without the hook,
//! an executable that cannot be reopened) the caller copies, as before.

use std::ffi::c_void;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::Engine;
use wasmtime::component::Component;

/// One built-in's code, mapped from the executable.
#[derive(Clone, Copy)]
struct Mapping {
    /// The private mapping of the embedded bytes' file range.
    start: usize,
    len: usize,
}

/// A mapping just made, with the file it maps and where in it.
struct Mapped {
    mapping: Mapping,
    exe: Arc<std::fs::File>,
    offset: u64,
}

/// Every mapping made. Never shrinks: a retired mapping keeps its address
/// range (no pages), so no later one can take it.
static MAPPINGS: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The component in `code` (a built-in's embedded precompiled bytes),
/// deserialised in place from a mapping of the executable.
pub fn component(engine: &Engine, code: &'static [u8]) -> Result<Component, String> {
    if !cfg!(target_arch = "x86_64") {
        return Err("in-place code is only set up on x86_64".into());
    }
    let Mapped {
        mapping,
        exe,
        offset,
    } = map(code)?;
    MAPPINGS
        .lock()
        .map_err(|_| "the mapping table is poisoned")?
        .push(mapping);
    let memory = NonNull::slice_from_raw_parts(
        NonNull::new(mapping.start as *mut u8).ok_or("a null mapping")?,
        mapping.len,
    );
    // SAFETY: `memory` holds exactly the bytes of `code` (the same file
    // range of the executing inode, spot-checked in `map`), which the build
    // produced with `Engine::precompile_component`; it is never unmapped
    // nor written, so it outlives every component made from it. It is the
    // range of `exe` from `offset`, and the kernel lets no one write to an
    // executable while it runs, so memory images mapped from that range
    // hold the same bytes. wasmtime still checks the header against
    // `engine` and refuses code it cannot run.
    unsafe { Component::deserialize_raw_in_file(engine, memory, exe, offset) }
        .map_err(|e| format!("{e:#}"))
}

/// Whether `[ptr, ptr + len)` lies in a mapping made here.
pub fn is_mapped(ptr: *const u8, len: usize) -> bool {
    let (start, end) = (ptr as usize, ptr as usize + len);
    MAPPINGS
        .lock()
        .map(|m| m.iter().any(|x| start >= x.start && end <= x.start + x.len))
        .unwrap_or(false)
}

/// Where `addr` is in the executable's file: its offset, and the device
/// and inode `/proc/self/maps` names for it.
struct FilePlace {
    offset: u64,
    dev_major: u32,
    dev_minor: u32,
    inode: u64,
}

fn file_place(addr: usize, len: usize) -> Result<FilePlace, String> {
    let maps =
        std::fs::File::open("/proc/self/maps").map_err(|e| format!("/proc/self/maps: {e}"))?;
    for line in BufReader::new(maps).lines() {
        let line = line.map_err(|e| format!("/proc/self/maps: {e}"))?;
        // start-end perms offset major:minor inode path
        let mut fields = line.split_whitespace();
        let (Some(range), Some(_perms), Some(offset), Some(dev), Some(inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let hex = |s: &str| usize::from_str_radix(s, 16).ok();
        let (Some(start), Some(end)) = (hex(start), hex(end)) else {
            continue;
        };
        if addr < start || addr >= end {
            continue;
        }
        if addr + len > end {
            return Err("the code spans two mappings of the executable".into());
        }
        let offset = u64::from_str_radix(offset, 16).map_err(|e| e.to_string())?;
        let (major, minor) = dev.split_once(':').ok_or("no device in /proc/self/maps")?;
        return Ok(FilePlace {
            offset: offset + (addr - start) as u64,
            dev_major: u32::from_str_radix(major, 16).map_err(|e| e.to_string())?,
            dev_minor: u32::from_str_radix(minor, 16).map_err(|e| e.to_string())?,
            inode: inode.parse().map_err(|_| "no inode in /proc/self/maps")?,
        });
    }
    Err("the code is not in a mapping of the executable".into())
}

/// `/proc/self/exe`, opened once: every built-in is mapped from it, and
/// wasmtime keeps it to map their memory images from.
fn executable() -> Result<Arc<std::fs::File>, String> {
    static EXE: OnceLock<Arc<std::fs::File>> = OnceLock::new();
    if let Some(exe) = EXE.get() {
        return Ok(exe.clone());
    }
    let exe = std::fs::File::open("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    Ok(EXE.get_or_init(|| Arc::new(exe)).clone())
}

fn map(code: &'static [u8]) -> Result<Mapped, String> {
    let page = page_size();
    let addr = code.as_ptr() as usize;
    if !addr.is_multiple_of(page) || code.is_empty() {
        return Err("the embedded code is not page-aligned".into());
    }
    let place = file_place(addr, code.len())?;
    let exe = executable()?;
    let meta = exe.metadata().map_err(|e| format!("/proc/self/exe: {e}"))?;
    if meta.ino() != place.inode
        || libc::major(meta.dev()) != place.dev_major
        || libc::minor(meta.dev()) != place.dev_minor
    {
        return Err("/proc/self/exe is not the file the code was loaded from".into());
    }
    let offset = libc::off_t::try_from(place.offset).map_err(|e| e.to_string())?;
    // SAFETY: a fresh private read-only mapping of a file range; nothing
    // else refers to the address it returns.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            code.len(),
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            exe.as_raw_fd(),
            offset,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the mapping is `code.len()` readable bytes and lives forever.
    let mapped = unsafe { std::slice::from_raw_parts(ptr as *const u8, code.len()) };
    let head = page.min(code.len());
    let tail = code.len().saturating_sub(page);
    if mapped[..head] != code[..head] || mapped[tail..] != code[tail..] {
        // SAFETY: unmapping what was just mapped and is referred to nowhere.
        unsafe { libc::munmap(ptr, code.len()) };
        return Err("the executable's file does not hold the embedded code".into());
    }
    Ok(Mapped {
        mapping: Mapping {
            start: ptr as usize,
            len: code.len(),
        },
        exe,
        offset: place.offset,
    })
}

/// The engine's code-memory hook: text becomes read+execute by `mprotect`,
/// as wasmtime's own default does; text in a mapping made here stays
/// executable when a component is dropped, since others may share it and
/// nothing ever writes it.
pub struct CodeMemory;

impl wasmtime::CustomCodeMemory for CodeMemory {
    fn required_alignment(&self) -> usize {
        page_size()
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        protect(ptr, len, libc::PROT_READ | libc::PROT_EXEC)
    }

    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        if is_mapped(ptr, len) {
            // Its component is being dropped: give the pages back. Read
            // again (unwind tables, while wasmtime retires it) they come
            // back from the file, unchanged.
            // SAFETY: advice on a range of a mapping made here; the
            // mapping stays, and it is private and never written.
            unsafe { libc::madvise(ptr as *mut c_void, len, libc::MADV_DONTNEED) };
            return Ok(());
        }
        protect(ptr, len, libc::PROT_READ | libc::PROT_WRITE)
    }
}

fn protect(ptr: *const u8, len: usize, prot: libc::c_int) -> wasmtime::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: wasmtime passes a page-aligned range of memory it owns (or
    // one of the mappings here) holding code it is publishing or retiring.
    let rc = unsafe { libc::mprotect(ptr as *mut c_void, len, prot) };
    if rc != 0 {
        wasmtime::bail!("mprotect: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gate_core::clock::Clock;

    use super::*;
    use crate::capabilities::Sandbox;
    use crate::grants::Grants;
    use crate::plugin::{PluginSource, Runtime};

    /// The pathname `/proc/self/maps` gives the mapping holding `addr`.
    fn mapped_file(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|line| {
            let (range, rest) = line.split_once(' ')?;
            let (s, e) = range.split_once('-')?;
            let (s, e) = (
                usize::from_str_radix(s, 16).ok()?,
                usize::from_str_radix(e, 16).ok()?,
            );
            (addr >= s && addr < e)
                .then(|| rest.split_whitespace().nth(4).unwrap_or("").to_string())
        })
    }

    /// Each built-in's memory images are mapped from its wasm data section
    /// in the executable, which therefore starts on a page.
    #[test]
    fn each_builtins_wasm_data_is_found_whole_pages_in_its_code() {
        let page = page_size();
        for b in crate::plugin::BUILTINS
            .iter()
            .filter(|b| !b.precompiled.is_empty())
        {
            let data = section(b.precompiled, ".rodata.wasm")
                .unwrap_or_else(|| panic!("`{}` has no .rodata.wasm", b.name));
            assert!(
                !data.is_empty() && data.end <= b.precompiled.len(),
                "{}",
                b.name
            );
            assert_eq!(data.start % page, 0, "{}", b.name);
        }
        assert!(section(b"\x7fELF\x02 but nothing else", ".rodata.wasm").is_none());
        assert!(section(b"not an ELF file at all", ".rodata.wasm").is_none());
    }

    /// The file offsets of the executable that `/proc/self/maps` shows
    /// mapped writable and private (wasm memories mapping an image from it).
    fn writable_exe_offsets() -> Vec<u64> {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_str().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .filter_map(|line| {
                let fields: Vec<_> = line.split_whitespace().collect();
                (fields.len() > 5 && fields[1] == "rw-p" && fields[5] == exe)
                    .then(|| u64::from_str_radix(fields[2], 16).unwrap())
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    #[cfg(target_arch = "x86_64")]
    async fn an_instance_maps_its_memory_image_from_the_executable() {
        // The pre-initialized built-in: its image is the largest (its
        // prepared detectors), and used to be written into a memfd by every
        // process.
        let runtime = Runtime::new(None).unwrap();
        let source = PluginSource::resolve("security", None).unwrap();
        let (component, _) = runtime.component(&source).unwrap();
        let code = component.image_range();
        let len = code.end as usize - code.start as usize;
        assert!(is_mapped(code.start, len));
        // Its first page's offset: wasmtime's protections split the mapping.
        let place = file_place(code.start as usize, 1).unwrap();
        let ours = |offsets: Vec<u64>| {
            offsets
                .into_iter()
                .filter(|o| (place.offset..place.offset + len as u64).contains(o))
                .count()
        };
        let (pre, _) = runtime.instance_pre(&source).unwrap();
        let sandbox = Arc::new(Sandbox::new(
            "security",
            Grants::default(),
            &std::env::temp_dir(),
            Clock::System,
        ));
        let mut store = runtime.new_store(&sandbox, "image").unwrap();
        let before = ours(writable_exe_offsets());
        let _instance = pre.instantiate_async(&mut store).await.unwrap();
        let after = ours(writable_exe_offsets());
        assert!(
            after > before,
            "no writable mapping of the executable's embedded security code appeared when an \
             instance was made ({before} before, {after} after): is its memory image back in \
             a memfd (vendor/README.md)?"
        );
        // The image is the component's wasm data, inside the embedded code.
        // SAFETY: the mapping is readable for its whole length and lives on.
        let elf = unsafe { std::slice::from_raw_parts(code.start, len) };
        let data = section(elf, ".rodata.wasm").unwrap();
        let data = place.offset + data.start as u64..place.offset + data.end as u64;
        assert!(
            writable_exe_offsets().iter().any(|o| data.contains(o)),
            "the writable mapping is not of the wasm data section"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    #[cfg(target_arch = "x86_64")]
    async fn a_builtin_runs_from_the_executable_file_not_a_copy() {
        let runtime = Runtime::new(None).unwrap();
        let source = PluginSource::resolve("config", None).unwrap();
        let (first, _) = runtime.component(&source).unwrap();
        let image = first.image_range();
        let start = image.start as usize;
        // The image is a mapping made here, and that mapping is of the
        // executable's file, not anonymous memory holding a copy.
        assert!(is_mapped(image.start, image.end as usize - start));
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(mapped_file(start).as_deref(), exe.to_str());
        // Loaded again by the runtime, it is the same component.
        let (second, _) = runtime.component(&source).unwrap();
        assert_eq!(second.image_range().start, image.start);
        // Another runtime, alive at once, gets a mapping of its own
        // (wasmtime registers code by address: sharing one would abort).
        let other = Runtime::new(None).unwrap();
        let (theirs, _) = other.component(&source).unwrap();
        assert_ne!(theirs.image_range().start, image.start);
        assert!(is_mapped(theirs.image_range().start, 1));
        // Retiring one runtime's code leaves the other's running: it
        // describes itself and runs a check.
        drop((first, second, runtime));
        let runtime = other;
        let sandbox = Arc::new(Sandbox::new(
            "config",
            Grants::default(),
            &std::env::temp_dir(),
            Clock::System,
        ));
        let plugin = runtime.load(&source, sandbox).await.expect("loads");
        let run = runtime
            .run_check(
                &plugin,
                "config.env-vars",
                &serde_json::json!({ "required": ["PATH"] }),
            )
            .await;
        let findings = run.outcome.expect("the check runs");
        assert!(!findings.is_empty());
    }

    /// The bytes of the section called `name` in a little-endian ELF64 image (a
    /// precompiled component), or `None`.
    fn section(elf: &[u8], name: &str) -> Option<std::ops::Range<usize>> {
        let u16_at =
            |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?) as usize);
        let u32_at =
            |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?) as usize);
        let u64_at = |at: usize| {
            usize::try_from(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?)).ok()
        };
        if elf.get(..5)? != b"\x7fELF\x02" {
            return None;
        }
        let (shoff, shentsize, shnum, shstrndx) =
            (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?);
        let header = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
        let names = u64_at(header(shstrndx)? + 0x18)?;
        (0..shnum).find_map(|i| {
            let at = header(i)?;
            let name_at = names.checked_add(u32_at(at)?)?;
            let found = elf.get(name_at..)?.split(|&b| b == 0).next()? == name.as_bytes();
            let (offset, size) = (u64_at(at + 0x18)?, u64_at(at + 0x20)?);
            let end = offset.checked_add(size)?;
            (found && end <= elf.len()).then_some(offset..end)
        })
    }
}
