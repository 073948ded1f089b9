//! A built-in check plugin's checks are known without running it: the
//! build recorded what its `describe()` answered (host/sandbox/build/
//! describe.rs), and `Runtime::describe` uses that instead of making an
//! instance. This asks every built-in again, live, and requires the same
//! answer, field for field.

use std::sync::Arc;

use gate_core::clock::Clock;
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::grants::Grants;
use gate_sandbox::plugin::{
    BUILTINS, PluginSource, Runtime, STRATEGIES, VALIDATORS, strategy, validator,
};

#[tokio::test(flavor = "multi_thread")]
async fn each_check_builtin_answers_describe_as_recorded() {
    let runtime = Runtime::new(None).unwrap();
    let mut compared = 0;
    for builtin in BUILTINS.iter() {
        let recorded = builtin
            .meta()
            .unwrap_or_else(|| panic!("`{}` has no readable build-time describe()", builtin.name));
        let source = PluginSource::from_builtin(builtin);
        let (pre, _) = runtime.compile(&source).unwrap();
        let sandbox = Arc::new(Sandbox::new(
            builtin.name,
            Grants::default(),
            std::env::temp_dir().as_path(),
            Clock::System,
        ));
        let live = runtime.ask_describe(&source, &sandbox, &pre).await.unwrap();
        assert_eq!(live, recorded, "`{}` answers differently now", builtin.name);
        // What the runtime loads is the recorded answer.
        let loaded = runtime
            .describe(
                &source,
                sandbox,
                pre,
                gate_sandbox::cache::CacheOutcome::Embedded,
            )
            .await
            .unwrap();
        assert_eq!(loaded.meta, recorded);
        assert!(!recorded.checks.is_empty());
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} check built-ins compared");
    // The other worlds are asked through their own bindings; nothing is
    // recorded for them.
    for name in VALIDATORS.iter().chain(STRATEGIES) {
        let other = validator(name).or_else(|| strategy(name)).unwrap();
        assert!(other.meta.is_none(), "`{name}` is not a check plugin");
    }
}
