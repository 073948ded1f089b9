//! Kubernetes manifests: which containers declare `resources.limits.cpu` and
//! `resources.limits.memory`.
//!
//! Multi-document YAML is split on `---` lines so every document keeps its
//! line offset; yaml_serde keeps no positions, so a container's line is found
//! by searching its document for `name: <container>` after the
//! `containers:`/`initContainers:` key.

use yaml_serde::Value;

/// A workload's container and the limits it declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// `Deployment`, `CronJob`, …
    pub kind: String,
    pub workload: String,
    pub namespace: Option<String>,
    pub name: String,
    pub init: bool,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
    /// 1-based line of the container's `name:` in the file.
    pub line: Option<u32>,
}

impl Container {
    /// `Deployment/web/app`: what findings and exemptions name.
    pub fn subject(&self) -> String {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!("{ns}{}/{}/{}", self.kind, self.workload, self.name)
    }
}

/// What one file holds.
#[derive(Debug, Default)]
pub struct Manifest {
    pub containers: Vec<Container>,
    /// Documents that are not workloads (Services, ConfigMaps, …).
    pub other_documents: usize,
}

struct Document<'a> {
    text: &'a str,
    /// 0-based line where the document's text starts.
    first_line: usize,
}

/// Splits on `---` lines (and `...` document ends), keeping line offsets.
fn documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 0;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        let marker =
            bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t") || bare == "...";
        if marker {
            docs.push(Document {
                text: &text[start_byte..offset],
                first_line: start_line,
            });
            start_byte = offset + line.len();
            start_line = i + 1;
        }
        offset += line.len();
    }
    docs.push(Document {
        text: &text[start_byte..],
        first_line: start_line,
    });
    docs
}

/// Parses a manifest file. Errors name the line (YAML errors) and the reason.
pub fn parse(text: &str) -> Result<Manifest, String> {
    let mut manifest = Manifest::default();
    for doc in documents(text) {
        if doc
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        let value: Value = yaml_serde::from_str(doc.text).map_err(|e| {
            let line = e.location().map(|l| l.line() + doc.first_line);
            let templated = doc.text.contains("{{");
            format!(
                "{}not valid YAML: {e}{}",
                line.map(|l| format!("line {l}: ")).unwrap_or_default(),
                if templated {
                    " (a Helm template? render it with `helm template` first)"
                } else {
                    ""
                }
            )
        })?;
        collect(&value, &doc, &mut manifest);
    }
    Ok(manifest)
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    cur.as_str()
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    Some(cur)
}

/// The pod spec of a workload kind, or `None` for other kinds.
fn pod_spec<'v>(kind: &str, v: &'v Value) -> Option<&'v Value> {
    match kind {
        "Pod" => at(v, &["spec"]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => at(v, &["spec", "template", "spec"]),
        "CronJob" => at(v, &["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

fn collect(v: &Value, doc: &Document<'_>, out: &mut Manifest) {
    let kind = str_at(v, &["kind"]).unwrap_or_default();
    if kind == "List" || kind.ends_with("List") {
        for item in at(v, &["items"])
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            collect(item, doc, out);
        }
        return;
    }
    let Some(spec) = pod_spec(kind, v) else {
        out.other_documents += 1;
        return;
    };
    let workload = str_at(v, &["metadata", "name"]).unwrap_or("<unnamed>");
    let namespace = str_at(v, &["metadata", "namespace"]).map(str::to_string);
    for (key, init) in [("initContainers", true), ("containers", false)] {
        for c in spec
            .get(key)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = str_at(c, &["name"]).unwrap_or("<unnamed>").to_string();
            let limit = |r: &str| {
                at(c, &["resources", "limits", r]).and_then(|q| match q {
                    Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            out.containers.push(Container {
                kind: kind.to_string(),
                workload: workload.to_string(),
                namespace: namespace.clone(),
                line: container_line(doc, workload, key, &name),
                cpu_limit: limit("cpu"),
                memory_limit: limit("memory"),
                init,
                name,
            });
        }
    }
}

/// The line of `name: <container>` after the `key:` line, in the document.
fn container_line(doc: &Document<'_>, workload: &str, key: &str, name: &str) -> Option<u32> {
    let lines: Vec<&str> = doc.text.lines().collect();
    let is_name = |l: &str, value: &str| {
        let t = l.trim_start();
        let t = t.strip_prefix("- ").map_or(t, str::trim_start);
        t.strip_prefix("name:").is_some_and(|rest| {
            let rest = rest.split(" #").next().unwrap_or(rest).trim();
            rest.trim_matches(|c| c == '"' || c == '\'') == value
        })
    };
    // In a List, start after the workload's own name.
    let from = lines.iter().position(|l| is_name(l, workload)).unwrap_or(0);
    let key_line = lines[from..]
        .iter()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(&format!("{key}:"))
        })
        .map(|i| i + from)?;
    let at = lines[key_line..]
        .iter()
        .position(|l| is_name(l, name))
        .map(|i| i + key_line)?;
    Some((doc.first_line + at + 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"# web tier
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: web:1
          resources:
            limits: { cpu: 500m, memory: 256Mi }
      containers:
        - name: app
          image: web:1
          resources:
            limits:
              cpu: "1"
              memory: 512Mi
        - name: sidecar
          image: envoy
          resources:
            requests:
              cpu: 100m
            limits:
              memory: 128Mi
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: "report"
            image: report:1
...
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: debug
  spec:
    containers:
    - name: shell
      image: busybox
      resources:
        limits:
          cpu: 2
          memory: 64Mi
"#;

    #[test]
    fn finds_every_container_and_its_line() {
        let m = parse(MANIFEST).unwrap();
        assert_eq!(m.other_documents, 1);
        let got: Vec<_> = m
            .containers
            .iter()
            .map(|c| {
                (
                    c.subject(),
                    c.init,
                    c.cpu_limit.clone(),
                    c.memory_limit.clone(),
                    c.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "shop/Deployment/web/migrate".into(),
                    true,
                    Some("500m".into()),
                    Some("256Mi".into()),
                    Some(16)
                ),
                (
                    "shop/Deployment/web/app".into(),
                    false,
                    Some("1".into()),
                    Some("512Mi".into()),
                    Some(21)
                ),
                (
                    "shop/Deployment/web/sidecar".into(),
                    false,
                    None,
                    Some("128Mi".into()),
                    Some(27)
                ),
                ("CronJob/nightly/report".into(), false, None, None, Some(46)),
                (
                    "Pod/debug/shell".into(),
                    false,
                    Some("2".into()),
                    Some("64Mi".into()),
                    Some(59)
                ),
            ]
        );
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let text = "kind: ConfigMap\n---\nkind: Deployment\nspec: [\n";
        let e = parse(text).unwrap_err();
        assert!(e.starts_with("line "), "{e}");
        let e =
            parse("kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n").unwrap_err();
        assert!(e.contains("helm template"), "{e}");
    }

    #[test]
    fn empty_documents_are_skipped() {
        let m = parse("---\n# only a comment\n---\n\n").unwrap();
        assert!(m.containers.is_empty());
        assert_eq!(m.other_documents, 0);
    }
}
