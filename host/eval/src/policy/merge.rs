//! `extends`: merging policy files in order, later wins key by key.
//!
//! Gates merge by name, checks by id, plugins, connections and metrics providers
//! by name. A key set in a later file replaces the earlier value; a key it leaves
//! out keeps it. Grant lists are the exception: they are unioned, so a policy
//! that extends another can add access but never silently drop it. Check `params`
//! tables merge recursively. Exemptions from every file all apply.

use serde_json::Value;

use super::document::PolicyDoc;

/// Merges `docs` (bases first, the loaded file last).
pub(crate) fn merge(docs: Vec<PolicyDoc>) -> PolicyDoc {
    let mut docs = docs.into_iter();
    let Some(mut acc) = docs.next() else {
        return PolicyDoc::empty(Default::default());
    };
    for doc in docs {
        merge_into(&mut acc, doc);
    }
    acc
}

fn later<T>(into: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *into = value;
    }
}

fn merge_into(acc: &mut PolicyDoc, doc: PolicyDoc) {
    acc.file = doc.file;
    later(&mut acc.name, doc.name);
    later(&mut acc.max_exemption_days, doc.max_exemption_days);
    later(&mut acc.warn_days, doc.warn_days);
    later(&mut acc.exemption_signers, doc.exemption_signers);
    acc.complete &= doc.complete;
    acc.exemptions.extend(doc.exemptions);
    later(&mut acc.audit_dir, doc.audit_dir);
    // A later file's rule replaces the one of the same name.
    for rule in doc.notify {
        acc.notify.retain(|r| r.name != rule.name);
        acc.notify.push(rule);
    }
    // A restore drill is one table: a later file's replaces it whole.
    for d in doc.restore_drills {
        acc.restore_drills.retain(|x| x.connection != d.connection);
        acc.restore_drills.push(d);
    }
    match (&mut acc.migrations, doc.migrations) {
        (Some(x), Some(m)) => {
            later(&mut x.paths, m.paths);
            later(&mut x.pg_version, m.pg_version);
            later(&mut x.exclude, m.exclude);
            later(&mut x.include, m.include);
            later(&mut x.assume_in_transaction, m.assume_in_transaction);
            x.origin = m.origin;
        }
        (x, m) => later(x, m),
    }

    for p in doc.plugins {
        match acc
            .plugins
            .iter_mut()
            .find(|x| x.name.value == p.name.value)
        {
            Some(x) => {
                later(&mut x.path, p.path);
                later(&mut x.sha256, p.sha256);
                x.grants.merge(p.grants);
                x.origin = p.origin;
                x.clean &= p.clean;
            }
            None => acc.plugins.push(p),
        }
    }
    for c in doc.connections {
        match acc.connections.iter_mut().find(|x| x.name == c.name) {
            Some(x) => {
                later(&mut x.kind, c.kind);
                later(&mut x.url_env, c.url_env);
                later(&mut x.scratch, c.scratch);
                x.origin = c.origin;
                x.clean &= c.clean;
            }
            None => acc.connections.push(c),
        }
    }
    for m in doc.metrics {
        match acc.metrics.iter_mut().find(|x| x.name == m.name) {
            Some(x) => {
                later(&mut x.kind, m.kind);
                later(&mut x.url, m.url);
                x.origin = m.origin;
                x.clean &= m.clean;
            }
            None => acc.metrics.push(m),
        }
    }
    for g in doc.gates {
        match acc.gates.iter_mut().find(|x| x.name.value == g.name.value) {
            Some(x) => {
                later(&mut x.checks, g.checks);
                later(&mut x.enforcement, g.enforcement);
                x.origin = g.origin;
                x.clean &= g.clean;
            }
            None => acc.gates.push(g),
        }
    }
    for c in doc.checks {
        match acc.checks.iter_mut().find(|x| x.id.value == c.id.value) {
            Some(x) => {
                later(&mut x.severity, c.severity);
                later(&mut x.enforcement, c.enforcement);
                later(&mut x.on_error, c.on_error);
                match (&mut x.params, c.params) {
                    (Some(base), Some(child)) => {
                        merge_json(&mut base.value, child.value);
                        base.origin = child.origin;
                    }
                    (base, child) => later(base, child),
                }
                x.origin = c.origin;
            }
            None => acc.checks.push(c),
        }
    }
}

/// Tables merge key by key, recursively; anything else is replaced.
fn merge_json(base: &mut Value, child: Value) {
    match (base, child) {
        (Value::Object(base), Value::Object(child)) => {
            for (k, v) in child {
                match base.get_mut(&k) {
                    Some(existing) => merge_json(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, child) => *base = child,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_merge_recursively_and_replace_lists() {
        let mut base = json!({"paths": ["/var"], "limits": {"min": 10, "max": 90}, "keep": true});
        merge_json(&mut base, json!({"paths": ["/srv"], "limits": {"min": 15}}));
        assert_eq!(
            base,
            json!({"paths": ["/srv"], "limits": {"min": 15, "max": 90}, "keep": true})
        );
    }
}
