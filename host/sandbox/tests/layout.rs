//! The build's function layout (build/layout.rs): a built-in's listed
//! functions move first, every reference to a function follows them, and the
//! function names are dropped.
//!
//! A small module is enough to reach every kind of reference (an import, a
//! direct call, a call through the function table, exports); the built-ins
//! themselves are checked against the order files at the end.

#[path = "../build/layout.rs"]
mod layout;

use wasm_encoder::{
    CodeSection, Component, ConstExpr, ElementSection, Elements, EntityType, ExportKind,
    ExportSection, Function, FunctionSection, ImportSection, Instruction, Module, ModuleSection,
    NameMap, NameSection, NestedComponentSection, RefType, TableSection, TableType, TypeSection,
    ValType,
};
use wasmparser::{KnownCustom, Parser, Payload};

/// A component holding one core module: `run(x)` calls `third`, which calls
/// `second` through the table, which calls `first` and then the imported
/// `add_one`: 10x + 1.
fn component() -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut imports = ImportSection::new();
    imports.import("host", "add_one", EntityType::Function(0));
    module.section(&imports);
    let mut functions = FunctionSection::new();
    for _ in 0..3 {
        functions.function(0);
    }
    module.section(&functions);
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: 1,
        maximum: Some(1),
        shared: false,
    });
    module.section(&tables);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 3);
    exports.export("first", ExportKind::Func, 1);
    module.section(&exports);
    let mut elements = ElementSection::new();
    elements.active(
        None,
        &ConstExpr::i32_const(0),
        Elements::Functions([2].as_slice().into()),
    );
    module.section(&elements);
    let mut code = CodeSection::new();
    let mut first = Function::new([]);
    first
        .instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::I32Const(10))
        .instruction(&Instruction::I32Mul)
        .instruction(&Instruction::End);
    let mut second = Function::new([]);
    second
        .instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::Call(1))
        .instruction(&Instruction::Call(0))
        .instruction(&Instruction::End);
    let mut third = Function::new([]);
    third
        .instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::I32Const(0))
        .instruction(&Instruction::CallIndirect {
            type_index: 0,
            table_index: 0,
        })
        .instruction(&Instruction::End);
    code.function(&first).function(&second).function(&third);
    module.section(&code);
    let mut names = NameMap::new();
    for (i, name) in ["add_one", "first", "second", "third"].iter().enumerate() {
        names.append(i as u32, name);
    }
    let mut name_section = NameSection::new();
    name_section.functions(&names);
    module.section(&name_section);

    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// The core modules of `component`.
fn modules(component: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut depth = 0u32;
    for payload in Parser::new(0).parse_all(component) {
        match payload.unwrap() {
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                if depth == 0 {
                    found.push(component[unchecked_range].to_vec());
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    found
}

/// `run(x)` and `first(x)` of `module`, instantiated for real.
fn call(module: &[u8], x: i32) -> (i32, i32) {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, module).unwrap();
    let mut linker = wasmtime::Linker::new(&engine);
    linker.func_wrap("host", "add_one", |x: i32| x + 1).unwrap();
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    let first = instance
        .get_typed_func::<i32, i32>(&mut store, "first")
        .unwrap();
    (
        run.call(&mut store, x).unwrap(),
        first.call(&mut store, x).unwrap(),
    )
}

fn has_name_section(module: &[u8]) -> bool {
    Parser::new(0).parse_all(module).any(|p| {
        matches!(p, Ok(Payload::CustomSection(c)) if matches!(c.as_known(), KnownCustom::Name(_)))
    })
}

/// The type of each defined function and the first instruction after the
/// `local.get 0` every body here starts with, in the module's order.
fn shapes(module: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut ops = body.get_operators_reader().unwrap();
            ops.read().unwrap();
            found.push(format!("{:?}", ops.read().unwrap()));
        }
    }
    found
}

fn order(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn functions_from(first: u32, names: &[&str]) -> layout::Functions {
    layout::Functions {
        first,
        names: order(names),
    }
}

#[test]
fn listed_functions_move_first_and_every_reference_follows() {
    let original = component();
    let laid_out = layout::lay_out(&original, &order(&["third", "second"])).unwrap();
    assert_eq!(
        laid_out.modules,
        vec![functions_from(1, &["third", "second", "first"])],
        "the listed functions first, in the list's order, then the rest in their old order"
    );
    let before = &modules(&original)[0];
    let after = &modules(&laid_out.wasm)[0];
    assert_eq!(
        shapes(after),
        vec![
            "I32Const { value: 0 }",
            "Call { function_index: 3 }",
            "I32Const { value: 10 }"
        ],
        "the bodies moved with their functions, and `second` calls `first` at its new index"
    );
    wasmparser::Validator::new().validate_all(after).unwrap();
    assert_eq!(call(before, 4), (41, 40));
    assert_eq!(call(after, 4), (41, 40));
}

#[test]
fn the_function_names_are_dropped() {
    let original = component();
    assert!(has_name_section(&modules(&original)[0]));
    let laid_out = layout::lay_out(&original, &[]).unwrap();
    assert!(!has_name_section(&modules(&laid_out.wasm)[0]));
}

#[test]
fn names_the_module_does_not_have_leave_its_order_alone() {
    let original = component();
    let laid_out = layout::lay_out(&original, &order(&["gone", "also-gone"])).unwrap();
    assert_eq!(
        laid_out.modules,
        vec![functions_from(1, &["first", "second", "third"])]
    );
    let after = &modules(&laid_out.wasm)[0];
    assert_eq!(shapes(after), shapes(&modules(&original)[0]));
    assert_eq!(call(after, 7), (71, 70));
}

#[test]
fn a_name_listed_twice_keeps_its_first_place() {
    let original = component();
    let laid_out = layout::lay_out(&original, &order(&["second", "first", "second"])).unwrap();
    assert_eq!(
        laid_out.modules,
        vec![functions_from(1, &["second", "first", "third"])]
    );
}

#[test]
fn a_nested_component_is_kept_as_it_is() {
    let mut inner = Component::new();
    inner.section(&ModuleSection(&Module::new()));
    let mut outer = Component::new();
    outer.section(&NestedComponentSection(&inner));
    let original = outer.finish();
    let nested = |wasm: &[u8]| {
        Parser::new(0)
            .parse_all(wasm)
            .filter_map(|p| match p.unwrap() {
                Payload::ComponentSection {
                    unchecked_range, ..
                } => Some(wasm[unchecked_range].to_vec()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let laid_out = layout::lay_out(&original, &[]).unwrap();
    assert_eq!(nested(&laid_out.wasm), nested(&original));
    assert_eq!(laid_out.wasm, original);
}

#[test]
fn a_module_whose_code_and_function_sections_disagree_is_an_error() {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0).function(0);
    module.section(&functions);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    code.function(&body);
    module.section(&code);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    let err = layout::lay_out(&component.finish(), &[]).err().unwrap();
    assert!(err.contains("inconsistent lengths"), "{err}");
}

#[test]
fn bytes_that_are_not_a_component_are_an_error() {
    assert!(layout::lay_out(b"\0asm\x0d\0\x01\0garbage", &[]).is_err());
}

/// The defined functions of `component`'s first core module, each as its
/// type and its instructions' names (without their operands, which hold the
/// function indices the layout renumbers), and their names where the module
/// has them.
fn functions(component: &[u8]) -> (Vec<String>, Vec<Option<String>>) {
    let module = &modules(component)[0];
    let (mut types, mut bodies) = (Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(module) {
        match payload.unwrap() {
            Payload::FunctionSection(section) => {
                types = section.into_iter().map(Result::unwrap).collect();
            }
            Payload::CodeSectionEntry(body) => {
                let mut shape = String::new();
                let mut ops = body.get_operators_reader().unwrap();
                while !ops.eof() {
                    let op = format!("{:?}", ops.read().unwrap());
                    let end = op.find([' ', '{', '(']).unwrap_or(op.len());
                    shape.push_str(&op[..end]);
                    shape.push(';');
                }
                bodies.push(shape);
            }
            _ => {}
        }
    }
    let (imported, _, names) = layout::function_names(module).unwrap();
    let shapes = types
        .iter()
        .zip(&bodies)
        .map(|(ty, body)| format!("{ty}:{body}"))
        .collect();
    let names = (0..types.len() as u32)
        .map(|i| names.get(&(imported + i)).cloned())
        .collect();
    (shapes, names)
}

/// Each built-in with an order file (link/builtins/) is embedded with the
/// functions it lists first, in its order, and without function names; and
/// nine in ten of the names it lists still exist (scripts/order-functions rewrites
/// the files when they do not).
#[test]
fn the_builtins_are_embedded_with_their_listed_functions_first() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../link/builtins");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".order"))
        else {
            continue;
        };
        let listed = layout::parse_order(&std::fs::read_to_string(&path).unwrap());
        use gate_sandbox::plugin::{builtin, strategy, validator};
        let builtin = builtin(name)
            .or_else(|| validator(name))
            .or_else(|| strategy(name))
            .unwrap_or_else(|| panic!("{}: no built-in `{name}`", path.display()));
        let built = std::path::Path::new(env!("GATE_PLUGIN_BUILD_DIR"))
            .join(format!("gate_plugin_{name}.wasm"));
        let built = std::fs::read(&built).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
        let (built_shapes, built_names) = functions(&built);
        let (embedded_shapes, embedded_names) = functions(builtin.wasm);

        assert!(
            embedded_names.iter().all(Option::is_none),
            "`{name}` is embedded with its function names"
        );
        // The listed functions the plugin still has, in the file's order
        // (a name the module gives several functions brings all of them, in
        // their old order): the embedded module must start with them.
        let mut seen = std::collections::HashSet::new();
        let (mut expected, mut present) = (Vec::new(), 0);
        for listed in listed.iter().filter(|n| seen.insert(n.as_str())) {
            let named: Vec<&String> = built_names
                .iter()
                .zip(&built_shapes)
                .filter(|(b, _)| b.as_deref() == Some(listed))
                .map(|(_, shape)| shape)
                .collect();
            present += usize::from(!named.is_empty());
            expected.extend(named);
        }
        // 90%: with 68-73% of config's and security's names left (a new
        // dependency of theirs renamed the rest), the example policy peaked
        // at 22.2 MiB instead of 18.7 (docs/benchmarks.md, "Thirteenth pass").
        assert!(
            present * 10 >= seen.len() * 9,
            "only {present} of the {} functions {} lists are left in `{name}`: run \
             scripts/order-functions (CONTRIBUTING.md)",
            seen.len(),
            path.display()
        );
        assert_eq!(embedded_shapes.len(), built_shapes.len());
        for (i, shape) in expected.iter().enumerate() {
            assert_eq!(
                &&embedded_shapes[i], shape,
                "function {i} of the embedded `{name}` is not the {i}th one its order lists"
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 3,
        "only {checked} order files in {}",
        dir.display()
    );
}
