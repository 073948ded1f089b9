//! The built-ins' function layout: the functions a short command runs
//! first and together, and the function names dropped.
//!
//! wasmtime lays a module's compiled functions out in the module's order,
//! and the kernel faults code in 64 KB at a time, so a check that runs a few
//! hundred functions scattered over 4 MB of code keeps most of those 4 MB
//! resident. `link/builtins/<name>.order` lists, by name, the functions of a
//! built-in that real runs sampled (scripts/order-functions writes it); each
//! core module of the component gets its listed functions first, in the
//! list's order, and the rest after them in their old order. Only the order
//! of the function and code sections changes; every reference to a function
//! (calls, exports, the function table, the start function) is renumbered to
//! match, and the bodies are otherwise the same instructions.
//!
//! The plugins are linked with their function names (plugins/Cargo.toml),
//! which is what the list is matched against. The names are then dropped
//! here: wasmtime would otherwise carry them into the precompiled code.

use std::collections::HashMap;

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{CodeSection, Component, FunctionSection, Module, RawSection};
use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};

/// The function names an order file lists (`link/builtins/<name>.order`):
/// one a line, hottest first; blank lines and `#` comments are skipped.
pub fn parse_order(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// A component laid out by [`lay_out`].
pub struct LaidOut {
    pub wasm: Vec<u8>,
    /// Each core module's defined functions, in their new order.
    pub modules: Vec<Functions>,
}

/// The names of a core module's defined functions, in order.
#[derive(Debug, PartialEq)]
pub struct Functions {
    /// The function index of the first (the count of imported functions).
    pub first: u32,
    /// Empty where the module has no name for a function.
    pub names: Vec<String>,
}

/// `component` with its core modules' listed functions moved first (`order`,
/// names, hottest first) and their name sections dropped.
pub fn lay_out(component: &[u8], order: &[String]) -> Result<LaidOut, String> {
    let mut out = Component::new();
    let mut depth = 0usize;
    let mut listing = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| e.to_string())?;
        // Only the component's own sections are copied; a nested module's
        // or component's payloads follow its section, up to its `End`.
        let nests = matches!(
            payload,
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. }
        );
        match &payload {
            Payload::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Payload::ModuleSection {
                unchecked_range, ..
            } if depth == 0 => {
                let (module, names) = reorder_module(&component[unchecked_range.clone()], order)?;
                listing.push(names);
                out.section(&RawSection {
                    id: wasm_encoder::ComponentSectionId::CoreModule as u8,
                    data: &module,
                });
            }
            _ if depth == 0 => {
                if let Some((id, range)) = payload.as_section() {
                    out.section(&RawSection {
                        id,
                        data: &component[range],
                    });
                }
            }
            _ => {}
        }
        if nests {
            depth += 1;
        }
    }
    Ok(LaidOut {
        wasm: out.finish(),
        modules: listing,
    })
}

/// One core module with its defined functions permuted and its name section
/// dropped, and its defined functions' names in the new order.
fn reorder_module(module: &[u8], order: &[String]) -> Result<(Vec<u8>, Functions), String> {
    let (imported, defined, names) = function_names(module)?;
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .rev()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    // Listed functions first, by their place in the list; the rest keep
    // their relative order (a stable sort).
    let mut layout: Vec<u32> = (0..defined).collect();
    layout.sort_by_key(|&f| {
        names
            .get(&(imported + f))
            .and_then(|n| rank.get(n.as_str()))
            .copied()
            .unwrap_or(usize::MAX)
    });
    let mut new_of_old = vec![0u32; defined as usize];
    for (new, &old) in layout.iter().enumerate() {
        new_of_old[old as usize] = u32::try_from(new).map_err(|e| e.to_string())?;
    }
    let listing = layout
        .iter()
        .map(|f| names.get(&(imported + f)).cloned().unwrap_or_default())
        .collect();
    let mut permute = Permute {
        imported,
        new_of_old,
        layout,
    };
    let mut out = Module::new();
    permute
        .parse_core_module(&mut out, Parser::new(0), module)
        .map_err(|e| e.to_string())?;
    let functions = Functions {
        first: imported,
        names: listing,
    };
    Ok((out.finish(), functions))
}

/// The module's count of imported and of defined functions, and the names of
/// its functions by index.
pub fn function_names(module: &[u8]) -> Result<(u32, u32, HashMap<u32, String>), String> {
    let (mut imported, mut defined, mut names) = (0, 0, HashMap::new());
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    if matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::FunctionSection(functions) => defined = functions.count(),
            Payload::CustomSection(custom) => {
                let KnownCustom::Name(subsections) = custom.as_known() else {
                    continue;
                };
                for subsection in subsections {
                    let Ok(Name::Function(map)) = subsection else {
                        continue;
                    };
                    for naming in map {
                        let naming = naming.map_err(|e| e.to_string())?;
                        names.insert(naming.index, naming.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok((imported, defined, names))
}

/// Re-encodes a module with its defined functions in `layout`'s order.
struct Permute {
    imported: u32,
    /// New defined index of each old defined index.
    new_of_old: Vec<u32>,
    /// Old defined index of each new defined index.
    layout: Vec<u32>,
}

/// An error of the layout itself (a module whose sections disagree).
type Error = reencode::Error<String>;

impl Permute {
    /// `items` (one per defined function, in the old order) in the new order.
    fn permuted<T: Clone>(&self, items: &[T], what: &str) -> Result<Vec<T>, Error> {
        if items.len() != self.layout.len() {
            return Err(Error::UserError(format!(
                "{} {what} for {} defined functions",
                items.len(),
                self.layout.len()
            )));
        }
        Ok(self
            .layout
            .iter()
            .map(|&old| items[old as usize].clone())
            .collect())
    }
}

impl Reencode for Permute {
    type Error = String;

    fn function_index(&mut self, func: u32) -> Result<u32, Error> {
        let Some(defined) = func.checked_sub(self.imported) else {
            return Ok(func);
        };
        match self.new_of_old.get(defined as usize) {
            Some(new) => Ok(self.imported + new),
            None => Err(Error::UserError(format!(
                "a reference to function {func}, which the module does not have"
            ))),
        }
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), Error> {
        let types = section.into_iter().collect::<Result<Vec<u32>, _>>()?;
        for ty in self.permuted(&types, "types")? {
            functions.function(self.type_index(ty)?);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), Error> {
        let bodies = section.into_iter().collect::<Result<Vec<_>, _>>()?;
        for body in self.permuted(&bodies, "bodies")? {
            self.parse_function_body(code, body)?;
        }
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), Error> {
        if matches!(section.as_known(), KnownCustom::Name(_)) {
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }
}
