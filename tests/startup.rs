//! What every start of `gate` pays before `main`: the shared libraries the
//! dynamic loader maps and binds. OpenSSL is linked statically on x86_64
//! Linux (.cargo/config.toml): dynamically, libcrypto alone made the loader
//! bind ~4,400 symbols and relocate its data at every start, a sixth of a
//! `gate --version` (docs/benchmarks.md, "Sixth pass"). Nothing else would
//! notice if a change of build settings brought it back: this reads the
//! real binary's dynamic section.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// One program header: type, file offset, virtual address, size in the file.
struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// The `DT_NEEDED` names of a little-endian ELF64 file.
fn needed_libraries(elf: &[u8]) -> Vec<String> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not ELF64");
    let (phoff, phentsize, phnum) = (
        u64_at(elf, 0x20) as usize,
        u16_at(elf, 0x36),
        u16_at(elf, 0x38),
    );
    let segments: Vec<Segment> = (0..phnum)
        .map(|i| {
            let at = phoff + i * phentsize;
            Segment {
                kind: u32_at(elf, at),
                offset: u64_at(elf, at + 8),
                vaddr: u64_at(elf, at + 16),
                filesz: u64_at(elf, at + 32),
            }
        })
        .collect();
    let file_offset = |vaddr: u64| -> usize {
        let load = segments
            .iter()
            .find(|s| s.kind == PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz)
            .expect("an address outside every loaded segment");
        (vaddr - load.vaddr + load.offset) as usize
    };
    let dynamic = segments
        .iter()
        .find(|s| s.kind == PT_DYNAMIC)
        .expect("no dynamic section: a static executable");
    let mut needed = Vec::new();
    let mut strtab = None;
    let mut at = dynamic.offset as usize;
    loop {
        let (tag, value) = (u64_at(elf, at), u64_at(elf, at + 8));
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed.push(value),
            DT_STRTAB => strtab = Some(file_offset(value)),
            _ => {}
        }
        at += 16;
    }
    let strtab = strtab.expect("no string table");
    needed
        .into_iter()
        .map(|name| {
            let start = strtab + name as usize;
            let len = elf[start..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8(elf[start..start + len].to_vec()).unwrap()
        })
        .collect()
}

#[test]
fn gate_does_not_load_openssl_at_start() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_gate")).unwrap();
    let needed = needed_libraries(&binary);
    // The reading itself works: the C library is always there.
    assert!(
        needed.iter().any(|n| n.starts_with("libc.so")),
        "{needed:?}"
    );
    let openssl: Vec<_> = needed
        .iter()
        .filter(|n| n.starts_with("libssl") || n.starts_with("libcrypto"))
        .collect();
    assert!(
        openssl.is_empty(),
        "gate loads {openssl:?} at every start; OpenSSL is meant to be linked statically \
         (.cargo/config.toml): {needed:?}"
    );
}

/// The functions a short command runs (`link/gate.order`) come first in the
/// executable's code, where build.rs asks LLD to put them: the example
/// policy's run then keeps 4.3 MiB of gate's code resident instead of 11.4
/// MiB (docs/benchmarks.md, "Ninth pass"). A build that lost the linker flag
/// lays the code out in the compiler's order and fails the first assertion;
/// a list so old that most of its names are gone fails the second, and
/// `scripts/order-functions` writes a new one.
#[test]
fn the_hot_functions_come_first_in_the_code() {
    let order = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/link/gate.order"))
        .expect("link/gate.order");
    let listed: std::collections::HashSet<&str> = order
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let out = std::process::Command::new("nm")
        .args(["-n", "--defined-only", env!("CARGO_BIN_EXE_gate")])
        .output()
        .expect("nm (binutils) runs");
    assert!(
        out.status.success(),
        "nm could not read gate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let symbols = String::from_utf8_lossy(&out.stdout);
    let code: Vec<&str> = symbols
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "t" | "T" | "W" | "w", name] => Some(name),
            _ => None,
        })
        .collect();
    let first = &code[..200.min(code.len())];
    // In the compiler's order about 10 of 200 would be listed; aliases and
    // split-off cold parts of listed functions take a few places.
    let hot = first.iter().filter(|n| listed.contains(*n)).count();
    assert!(
        hot >= 150,
        "only {hot} of the first {} functions in gate's code are in link/gate.order \
         (is GATE_NO_FUNCTION_ORDER set, or another linker than LLD in use?)",
        first.len()
    );
    // A local function LLVM promotes across codegen units gets a suffix,
    // `.llvm.<hash>`, hashed from a module that holds the checkout's path in
    // its line tables, so a build in another directory names the same
    // function differently (about 345 of the 450 such names listed, in a
    // clone beside the checkout that wrote the list). Those keep the
    // compiler's order there; what says a list is stale is functions gone
    // by name, so the suffix is left out of the count.
    let present: std::collections::HashSet<&str> = code.iter().map(|n| unsuffixed(n)).collect();
    let kept = listed
        .iter()
        .filter(|n| present.contains(unsuffixed(n)))
        .count();
    // 90%, as for the built-ins' order files (host/sandbox/tests/layout.rs).
    assert!(
        kept * 10 >= listed.len() * 9,
        "{kept} of link/gate.order's {} functions are still in gate: run scripts/order-functions",
        listed.len()
    );
}

/// `name` without the `.llvm.<digits>` suffix of a promoted local function.
fn unsuffixed(name: &str) -> &str {
    match name.rsplit_once(".llvm.") {
        Some((base, hash)) if !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

#[test]
fn the_llvm_suffix_is_left_out_of_a_name() {
    assert_eq!(
        unsuffixed("_RNvCs1_4core3fmt.llvm.13181886036578824878"),
        "_RNvCs1_4core3fmt"
    );
    assert_eq!(unsuffixed("_RNvCs1_4core3fmt"), "_RNvCs1_4core3fmt");
    assert_eq!(unsuffixed("a.llvm.x1"), "a.llvm.x1");
    assert_eq!(unsuffixed("a.llvm."), "a.llvm.");
}
