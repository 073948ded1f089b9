//! Asks each built-in's `describe` export at build time, so that a run knows
//! a built-in's checks without instantiating it (src/plugin/builtin.rs,
//! `Builtin::meta`). The answer is written as the JSON of the host's
//! `PluginMeta`: record fields in snake case, enum cases by name, an absent
//! option as `null`.

use wasmtime::component::{Component, Linker, Val};

/// The JSON of what `describe` returns for the precompiled built-in, or
/// `None` when it is not a check plugin (the validator and strategy worlds)
/// or nothing was precompiled (a cross build). Stops the build when
/// `describe` fails.
pub fn describe(engine: &wasmtime::Engine, name: &str, precompiled: &[u8]) -> Option<String> {
    if precompiled.is_empty() {
        return None;
    }
    // SAFETY: `precompiled` was produced a moment ago by this very engine
    // (`Engine::precompile_component`).
    let component = unsafe { Component::deserialize(engine, precompiled) }
        .unwrap_or_else(|e| panic!("loading the built-in plugin `{name}` to describe it: {e:#}"));
    // Only check plugins: the runtime asks the validator and strategy
    // worlds' `describe` through their own bindings.
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(export, _)| export.to_string())
        .collect();
    if !["describe", "run"]
        .iter()
        .all(|e| exports.iter().any(|x| x == e))
    {
        return None;
    }
    let mut store = wasmtime::Store::new(engine, ());
    // The engine interrupts on epochs, which nothing advances here.
    store.set_epoch_deadline(u64::MAX / 2);
    let answer = super::block_on(async {
        let mut linker = Linker::new(engine);
        super::link_build_imports(&mut linker, &component, engine)?;
        let instance = linker.instantiate_async(&mut store, &component).await?;
        let func = instance
            .get_func(&mut store, "describe")
            .ok_or_else(|| wasmtime::format_err!("no `describe` function"))?;
        let mut results = [Val::Bool(false)];
        func.call_async(&mut store, &[], &mut results).await?;
        wasmtime::Result::<Val>::Ok(results[0].clone())
    })
    .unwrap_or_else(|e| panic!("describing the built-in plugin `{name}`: {e:#}"));
    Some(json(&answer).to_string())
}

/// `value` as the host's serde shape of the same data.
fn json(value: &Val) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Val::Bool(b) => J::Bool(*b),
        Val::String(s) => J::String(s.clone()),
        Val::U8(n) => J::from(*n),
        Val::U16(n) => J::from(*n),
        Val::U32(n) => J::from(*n),
        Val::U64(n) => J::from(*n),
        Val::S32(n) => J::from(*n),
        Val::S64(n) => J::from(*n),
        Val::Enum(case) => J::String(case.clone()),
        Val::Option(None) => J::Null,
        Val::Option(Some(inner)) => json(inner),
        Val::List(items) => J::Array(items.iter().map(json).collect()),
        Val::Record(fields) => J::Object(
            fields
                .iter()
                .map(|(field, v)| (field.replace('-', "_"), json(v)))
                .collect(),
        ),
        other => panic!("`describe` answered a value the host has no shape for: {other:?}"),
    }
}
