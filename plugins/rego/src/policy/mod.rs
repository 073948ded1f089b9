//! Rego policies loaded into a regorus [`Engine`]: syntax errors with their
//! file, line and column, the namespaces (packages) and the Conftest rules
//! each defines, and calls to functions that exist nowhere.
//!
//! regorus evaluates lazily and only notices a missing function when a rule
//! body reaches the call, so a `deny` rule calling `http.send` would simply
//! never fire for most inputs. OPA refuses to compile such a policy; so does
//! [`Policy::load`]: every call is resolved against the built-ins regorus
//! provides and the functions the policies define before anything runs. The
//! AST comes from `regorus::unstable`, which the lock file pins.

use std::collections::{BTreeMap, BTreeSet};

use regorus::Engine;
use regorus::unstable::{
    BUILTINS, Expr, Literal, Module, Query as AstQuery, Ref, Rule, RuleAssign, RuleHead, Span,
};

use crate::params::RegoVersion;

/// What kind of result a Conftest rule produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `deny`, `violation` and their `deny_*` / `violation_*` variants: failures.
    Failure,
    /// `warn` and `warn_*`: warnings.
    Warning,
}

impl Kind {
    /// Conftest's reading of a rule name: `^(deny|violation)(_[a-zA-Z0-9]+)*$`
    /// fails, `^warn(_[a-zA-Z0-9]+)*$` warns, anything else is a helper.
    pub fn of(rule: &str) -> Option<Kind> {
        let suffixed = |prefix: &str| {
            rule.strip_prefix(prefix).is_some_and(|rest| {
                rest.is_empty()
                    || rest.strip_prefix('_').is_some_and(|segments| {
                        segments
                            .split('_')
                            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
                    })
            })
        };
        if suffixed("deny") || suffixed("violation") {
            Some(Kind::Failure)
        } else if suffixed("warn") {
            Some(Kind::Warning)
        } else {
            None
        }
    }
}

/// One rule to query: `data.<namespace>.<rule>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Query {
    pub namespace: String,
    pub rule: String,
    pub kind: Kind,
}

impl Query {
    pub fn path(&self) -> String {
        format!("data.{}.{}", self.namespace, self.rule)
    }
}

/// A problem with a place in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// The policy file, line and column, when regorus named them.
    pub position: Option<(String, u32, u32)>,
}

impl Diagnostic {
    /// Reads regorus's error text (`--> file:line:col`, the source line, a
    /// caret, then `error: message`) into a message and a position. Text in
    /// any other shape is kept whole as the message.
    pub fn from_error(error: &impl std::fmt::Display) -> Diagnostic {
        let text = format!("{error:#}");
        let position = text.lines().find_map(|l| {
            let spec = l.trim_start().strip_prefix("--> ")?;
            let mut parts = spec.rsplitn(3, ':');
            let col = parts.next()?.trim().parse().ok()?;
            let line = parts.next()?.trim().parse().ok()?;
            Some((parts.next()?.to_string(), line, col))
        });
        let message = text
            .lines()
            .rev()
            .find_map(|l| l.trim_start().strip_prefix("error: "))
            .map(str::to_string)
            .unwrap_or_else(|| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        Diagnostic { message, position }
    }

    fn at(span: &Span, message: String) -> Diagnostic {
        Diagnostic {
            message,
            position: Some((span.source.get_path().clone(), span.line, span.col)),
        }
    }
}

/// The loaded policies: the engine, ready for data and input, and what
/// each namespace defines.
pub struct Policy {
    engine: Engine,
    /// Namespace → the Conftest rules it defines, in name order.
    rules: BTreeMap<String, BTreeSet<String>>,
}

impl Policy {
    /// Parses every `(file, text)` source, then refuses the set if any file
    /// has a syntax error, a call to a function that exists nowhere, or fails
    /// regorus's analysis (unsafe variables, recursion, conflicting rules):
    /// one [`Diagnostic`] per problem, each naming its file, line and column.
    pub fn load(
        sources: &[(String, String)],
        version: RegoVersion,
    ) -> Result<Policy, Vec<Diagnostic>> {
        let mut engine = Engine::new();
        engine.set_rego_v0(version == RegoVersion::V0);
        // `print` output is kept by the engine (and dropped after each
        // evaluation) rather than written to the guest's stderr.
        engine.set_gather_prints(true);
        let mut problems = Vec::new();
        for (file, text) in sources {
            if let Err(e) = engine.add_policy(file.clone(), text.clone()) {
                problems.push(Diagnostic::from_error(&e));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let modules = engine.get_modules().clone();
        let undefined = undefined_calls(&modules);
        if !undefined.is_empty() {
            return Err(undefined);
        }
        // The first evaluation prepares the engine (analysis, scheduling):
        // its errors are the policies', so they are reported here, once,
        // rather than once per input.
        if let Err(e) = engine.eval_query("true".to_string(), false) {
            return Err(vec![Diagnostic::from_error(&e)]);
        }
        let mut rules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for module in &modules {
            let names = rules.entry(namespace(module)).or_default();
            for rule in &module.policy {
                if let Some(name) = rule_name(rule).filter(|n| Kind::of(n).is_some()) {
                    names.insert(name);
                }
            }
        }
        Ok(Policy { engine, rules })
    }

    /// Sets the document rules see as `input`.
    pub fn set_input(&mut self, input: serde_json::Value) {
        self.engine.set_input(regorus::Value::from(input));
    }

    /// Merges a data document into `data`.
    pub fn add_data(&mut self, data: serde_json::Value) -> Result<(), String> {
        self.engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| Diagnostic::from_error(&e).message)
    }

    /// The value of `query`'s rule for the current input.
    pub fn eval(&mut self, query: &Query) -> Result<regorus::Value, Diagnostic> {
        let value = self
            .engine
            .eval_rule(query.path())
            .map_err(|e| Diagnostic::from_error(&e));
        // What `print` wrote is not shown anywhere; drop it.
        let _ = self.engine.take_prints();
        value
    }

    /// Every namespace (package) the policies define, in name order.
    pub fn namespaces(&self) -> Vec<&str> {
        self.rules.keys().map(String::as_str).collect()
    }

    /// The rules to query in `namespaces`, in the order given and by rule
    /// name within each. With `None` (every namespace), packages without a
    /// Conftest rule are libraries and are skipped. Anything that would leave
    /// the check with nothing to query is a problem, never an empty list.
    pub fn queries(&self, namespaces: Option<&[String]>) -> Result<Vec<Query>, Vec<String>> {
        let known = self.namespaces().join(", ");
        let mut queries = Vec::new();
        let mut problems = Vec::new();
        let chosen: Vec<&str> = match namespaces {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => self.namespaces(),
        };
        for ns in chosen {
            match self.rules.get(ns) {
                None => problems.push(format!(
                    "namespace `{ns}` is not a package of the policies (packages: {known})"
                )),
                Some(rules) if rules.is_empty() => {
                    if namespaces.is_some() {
                        problems.push(format!(
                            "namespace `{ns}` defines no deny, violation or warn rule"
                        ));
                    }
                }
                Some(rules) => queries.extend(rules.iter().map(|rule| Query {
                    namespace: ns.to_string(),
                    rule: rule.clone(),
                    kind: Kind::of(rule).unwrap_or(Kind::Failure),
                })),
            }
        }
        if problems.is_empty() && queries.is_empty() {
            problems.push(format!(
                "no package defines a deny, violation or warn rule (packages: {known})"
            ));
        }
        if problems.is_empty() {
            Ok(queries)
        } else {
            Err(problems)
        }
    }
}

/// A module's package as Conftest names namespaces: `main`, `kubernetes.admission`.
fn namespace(module: &Module) -> String {
    module.package.refr.span().text().trim().to_string()
}

/// The name a rule defines (its head's first segment), unless it is a
/// function, which cannot be queried.
fn rule_name(rule: &Rule) -> Option<String> {
    match rule {
        Rule::Spec {
            head: RuleHead::Func { .. },
            ..
        } => None,
        Rule::Spec {
            head: RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. },
            ..
        } => root_var(refr),
        Rule::Default { refr, args, .. } if args.is_empty() => root_var(refr),
        Rule::Default { .. } => None,
    }
}

fn root_var(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var { span, .. } => Some(span.text().to_string()),
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => root_var(refr),
        _ => None,
    }
}

/// The span of a reference's first segment (`http` in `http.send`).
fn first_span(expr: &Expr) -> &Span {
    match expr {
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => first_span(refr),
        other => other.span(),
    }
}

/// Calls that name neither a built-in regorus provides nor a function the
/// policies define, as OPA's compiler would reject them.
fn undefined_calls(modules: &[Ref<Module>]) -> Vec<Diagnostic> {
    let mut functions = BTreeSet::new();
    for module in modules {
        let ns = namespace(module);
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Func { refr, .. },
                    ..
                }
                | Rule::Default { refr, .. } => refr,
                _ => continue,
            };
            functions.insert(format!("data.{ns}.{}", refr.span().text().trim()));
        }
    }
    let mut problems = Vec::new();
    for module in modules {
        let scope = Scope {
            namespace: namespace(module),
            imports: imports(module),
            functions: &functions,
        };
        let mut calls = Vec::new();
        for rule in &module.policy {
            calls_in_rule(rule, &mut calls);
        }
        for (name, span) in calls {
            if !scope.defines(&name) {
                problems.push(Diagnostic::at(
                    &span,
                    format!(
                        "undefined function `{name}`: neither a built-in of gate's Rego interpreter \
                         (regorus) nor a function of the policies"
                    ),
                ));
            }
        }
    }
    problems
}

/// What a call's name may refer to inside one module.
struct Scope<'a> {
    namespace: String,
    /// Alias → `data.…` path, from `import data.lib.k8s [as k]`.
    imports: BTreeMap<String, String>,
    functions: &'a BTreeSet<String>,
}

impl Scope<'_> {
    fn defines(&self, name: &str) -> bool {
        if name == "print" || BUILTINS.contains_key(name) {
            return true;
        }
        if name.starts_with("data.") {
            return self.functions.contains(name);
        }
        let (head, rest) = match name.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (name, None),
        };
        if let Some(target) = self.imports.get(head) {
            let full = match rest {
                Some(rest) => format!("{target}.{rest}"),
                None => target.clone(),
            };
            return self.functions.contains(&full);
        }
        self.functions
            .contains(&format!("data.{}.{name}", self.namespace))
    }
}

/// `import data.lib.k8s` → `k8s`, `import data.lib as l` → `l`; imports of
/// `input`, `future.keywords` and `rego.v1` name no function.
fn imports(module: &Module) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for import in &module.imports {
        let path = import.refr.span().text().trim().to_string();
        if !path.starts_with("data.") {
            continue;
        }
        let alias = match &import.r#as {
            Some(span) => span.text().to_string(),
            None => path.rsplit('.').next().unwrap_or(&path).to_string(),
        };
        out.insert(alias, path);
    }
    out
}

type Calls = Vec<(String, Span)>;

fn calls_in_rule(rule: &Rule, out: &mut Calls) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { refr, assign, .. } => {
                    calls_in_expr(refr, out);
                    calls_in_assign(assign.as_ref(), out);
                }
                RuleHead::Set { refr, key, .. } => {
                    calls_in_expr(refr, out);
                    if let Some(key) = key {
                        calls_in_expr(key, out);
                    }
                }
                RuleHead::Func { args, assign, .. } => {
                    for arg in args {
                        calls_in_expr(arg, out);
                    }
                    calls_in_assign(assign.as_ref(), out);
                }
            }
            for body in bodies {
                calls_in_assign(body.assign.as_ref(), out);
                calls_in_query(&body.query, out);
            }
        }
        Rule::Default { value, .. } => calls_in_expr(value, out),
    }
}

fn calls_in_assign(assign: Option<&RuleAssign>, out: &mut Calls) {
    if let Some(assign) = assign {
        calls_in_expr(&assign.value, out);
    }
}

fn calls_in_query(query: &AstQuery, out: &mut Calls) {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    calls_in_expr(key, out);
                }
                calls_in_expr(value, out);
                calls_in_expr(collection, out);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => calls_in_expr(expr, out),
            Literal::Every { domain, query, .. } => {
                calls_in_expr(domain, out);
                calls_in_query(query, out);
            }
        }
        for with in &stmt.with_mods {
            calls_in_expr(&with.r#as, out);
        }
    }
}

fn calls_in_expr(expr: &Expr, out: &mut Calls) {
    match expr {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().for_each(|e| calls_in_expr(e, out));
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                calls_in_expr(key, out);
                calls_in_expr(value, out);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            calls_in_expr(term, out);
            calls_in_query(query, out);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            calls_in_expr(key, out);
            calls_in_expr(value, out);
            calls_in_query(query, out);
        }
        Expr::Call { fcn, params, .. } => {
            // The position points at the name's first segment, not at `(`.
            out.push((
                fcn.span().text().trim().to_string(),
                first_span(fcn).clone(),
            ));
            params.iter().for_each(|e| calls_in_expr(e, out));
        }
        Expr::UnaryExpr { expr, .. } => calls_in_expr(expr, out),
        Expr::RefDot { refr, .. } => calls_in_expr(refr, out),
        Expr::RefBrack { refr, index, .. } => {
            calls_in_expr(refr, out);
            calls_in_expr(index, out);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            calls_in_expr(lhs, out);
            calls_in_expr(rhs, out);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(key) = key {
                calls_in_expr(key, out);
            }
            calls_in_expr(value, out);
            calls_in_expr(collection, out);
        }
    }
}

#[cfg(test)]
mod tests;
