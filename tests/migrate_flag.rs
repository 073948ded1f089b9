//! `gate migrate start | complete | rollback --flagd FILE --flag KEY` on a
//! real PostgreSQL 15: the flag's variants follow the migration, and
//! complete is refused while the flag can still send an application to the
//! old version's schema, which complete drops.

mod common;
#[path = "services/mod.rs"]
mod services;

use common::*;
use serde_json::Value;
use services::Postgres;

const ADD_EMAIL: &str = "name = \"add_email\"\n\n[[operation]]\nadd_column = { table = \"users\", column = \"email\", type = \"text\", up = \"lower(name) || '@example.com'\" }\n";
const ADD_CITY: &str = "name = \"add_city\"\n\n[[operation]]\nadd_column = { table = \"users\", column = \"city\", type = \"text\" }\n";

fn flag(ws: &Workspace) -> Value {
    let text = std::fs::read_to_string(ws.path().join("flags/app.flagd.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["flags"]["users-schema"].clone()
}

fn migrate(ws: &Workspace, pg: &Postgres, args: &[&str]) -> (i32, String) {
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--flagd", "flags/app.flagd.json", "--flag", "users-schema"]);
    let out = ws.gate_env(&all, &[("DATABASE_URL", &pg.url)]);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

#[test]
fn the_flag_follows_the_migration_and_complete_waits_for_it() {
    let pg = Postgres::start();
    pg.psql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
         INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, 1000) g;",
    );
    let ws = Workspace::new();
    ws.write("add_email.toml", ADD_EMAIL);
    ws.write("add_city.toml", ADD_CITY);
    ws.write(
        "flags/app.flagd.json",
        r#"{"flags": {"dark-mode": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}"#,
    );

    let (c, out) = migrate(&ws, &pg, &["start", "add_email.toml"]);
    assert_eq!(c, 0, "{out}");
    let f = flag(&ws);
    assert_eq!(f["defaultVariant"], "old");
    let (old, new) = (
        f["variants"]["old"].as_str().unwrap().to_string(),
        f["variants"]["new"].as_str().unwrap().to_string(),
    );
    assert_eq!(old, "public");
    // The variant's value is a search_path that serves the new version.
    assert_eq!(
        pg.psql(&format!(
            "SET search_path TO \"{new}\"; SELECT email FROM users WHERE id = 3"
        )),
        "user3@example.com"
    );

    // Reads still pinned to old: complete is refused and changes nothing.
    let (c, out) = migrate(&ws, &pg, &["complete"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("defaultVariant is not `new`"), "{out}");
    assert_eq!(
        pg.psql(&format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{new}'"
        )),
        "1"
    );

    // The team moves every read to new; complete goes ahead and settles the flag.
    let path = ws.path().join("flags/app.flagd.json");
    let mut root: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    root["flags"]["users-schema"]["defaultVariant"] = "new".into();
    std::fs::write(&path, root.to_string()).unwrap();
    let (c, out) = migrate(&ws, &pg, &["complete"]);
    assert_eq!(c, 0, "{out}");
    let f = flag(&ws);
    assert_eq!(f["variants"]["old"], new.as_str());
    assert_eq!(f["variants"]["new"], new.as_str());
    let root: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(root["flags"]["dark-mode"]["defaultVariant"], "off");

    // The next migration, rolled back: every read goes to the version left.
    let (c, out) = migrate(&ws, &pg, &["start", "add_city.toml"]);
    assert_eq!(c, 0, "{out}");
    assert_eq!(flag(&ws)["variants"]["old"], new.as_str());
    let (c, out) = migrate(&ws, &pg, &["rollback"]);
    assert_eq!(c, 0, "{out}");
    let f = flag(&ws);
    assert_eq!(f["defaultVariant"], "old");
    assert_eq!(f["variants"]["new"], new.as_str());
    assert!(f.get("targeting").is_none());
}
