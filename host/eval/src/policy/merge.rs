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
    // A later file's rule replaces the one of the same name, and a later
    // restore drill (one table) the one of the same connection, whole.
    merge_by(
        &mut acc.notify,
        doc.notify,
        |r| r.name.clone(),
        |x, r| *x = r,
    );
    merge_by(
        &mut acc.restore_drills,
        doc.restore_drills,
        |d| d.connection.clone(),
        |x, d| *x = d,
    );
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
    merge_by(
        &mut acc.plugins,
        doc.plugins,
        |p| p.name.value.clone(),
        |x, p| {
            later(&mut x.path, p.path);
            later(&mut x.sha256, p.sha256);
            x.grants.merge(p.grants);
            x.origin = p.origin;
            x.clean &= p.clean;
        },
    );
    merge_by(
        &mut acc.connections,
        doc.connections,
        |c| c.name.clone(),
        |x, c| {
            later(&mut x.kind, c.kind);
            later(&mut x.url_env, c.url_env);
            later(&mut x.scratch, c.scratch);
            x.origin = c.origin;
            x.clean &= c.clean;
        },
    );
    merge_by(
        &mut acc.metrics,
        doc.metrics,
        |m| m.name.clone(),
        |x, m| {
            later(&mut x.kind, m.kind);
            later(&mut x.url, m.url);
            x.origin = m.origin;
            x.clean &= m.clean;
        },
    );
    merge_by(
        &mut acc.gates,
        doc.gates,
        |g| g.name.value.clone(),
        |x, g| {
            later(&mut x.checks, g.checks);
            later(&mut x.enforcement, g.enforcement);
            x.origin = g.origin;
            x.clean &= g.clean;
        },
    );
    merge_by(
        &mut acc.checks,
        doc.checks,
        |c| c.id.value.clone(),
        |x, c| {
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
        },
    );
}

/// Merges each of `later_items` into the item of `acc` with the same key,
/// or appends it when there is none.
fn merge_by<T, K: PartialEq>(
    acc: &mut Vec<T>,
    later_items: Vec<T>,
    key: impl Fn(&T) -> K,
    merge: impl Fn(&mut T, T),
) {
    for item in later_items {
        let k = key(&item);
        match acc.iter_mut().find(|x| key(x) == k) {
            Some(x) => merge(x, item),
            None => acc.push(item),
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
