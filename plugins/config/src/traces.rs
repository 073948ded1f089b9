//! Stack traces and debug pages in HTTP error responses: the signatures of
//! each runtime's traces, SQL error text and framework debug pages, matched on
//! the body as sent and on its text after HTML line breaks and entities are
//! undone (Express and PHP render traces as HTML).

use std::sync::OnceLock;

use regex::Regex;

/// One kind of leak.
pub struct Detector {
    /// Becomes the finding's rule.
    pub id: &'static str,
    pub what: &'static str,
    patterns: Vec<Regex>,
}

/// A leak found in a body.
#[derive(Debug, PartialEq, Eq)]
pub struct Leak {
    pub id: &'static str,
    pub what: &'static str,
    /// The matching text, trimmed and cut to a short excerpt.
    pub excerpt: String,
}

const EXCERPT_CHARS: usize = 160;

fn detectors() -> &'static [Detector] {
    static ALL: OnceLock<Vec<Detector>> = OnceLock::new();
    ALL.get_or_init(|| {
        let d = |id, what, patterns: &[&str]| Detector {
            id,
            what,
            patterns: patterns
                .iter()
                .map(|p| Regex::new(p).expect("built-in pattern compiles"))
                .collect(),
        };
        vec![
            d("python-traceback", "a Python traceback", &[
                r"Traceback \(most recent call last\)",
                r#"File "[^"\n]+\.py", line \d+, in "#,
            ]),
            d("java-stack-trace", "a Java/JVM stack trace", &[
                r#"Exception in thread "[^"\n]*" [\w.$]+"#,
                // `\tat` also as JSON escapes it (Spring's `trace` field).
                r"(?:\b|\\t)at [\w$]+(?:\.[\w$<>]+)+\((?:[\w$]+\.(?:java|kt|scala|groovy|clj):\d+|Native Method|Unknown Source)\)",
                r"(?m)^\s*at (?:java|javax|jdk|sun|org\.springframework|org\.apache|org\.hibernate)\.[\w$.]+\(",
            ]),
            d("dotnet-stack-trace", "a .NET stack trace", &[
                r"\bat [\w.`<>\[\],]+\([^()\n]*\) in [^\n]+:line \d+",
                r"--- End of (?:inner exception )?stack trace",
                r"Server Error in '[^'\n]*' Application",
            ]),
            d("go-panic", "a Go panic", &[
                r"goroutine \d+ \[[a-z ,0-9]+\]:",
                r"(?m)^\s*/\S+\.go:\d+ \+0x[0-9a-f]+",
            ]),
            d("rust-panic", "a Rust panic", &[
                r"thread '[^'\n]*' panicked at",
                r"panicked at [^\n]*\.rs:\d+:\d+",
                r"stack backtrace:\s*\n\s*0: ",
            ]),
            d("node-stack-trace", "a Node.js stack trace", &[
                r"\bat (?:[^\s()]+ (?:\[as [^\]]+\] )?)?\(?(?:/|[A-Za-z]:\\|node:|file://)[^\s()]*\.[cm]?[jt]sx?:\d+:\d+\)?",
                r"\bat (?:Object\.<anonymous>|Module\._compile|Layer\.handle \[as handle_request\])",
            ]),
            d("ruby-backtrace", "a Ruby backtrace", &[
                r"[\w./-]+\.rb:\d+:in [`'][^'\n]+'",
            ]),
            d("php-error", "a PHP error with file and line", &[
                r"(?:Fatal error|Parse error|Warning|Notice|Deprecated|Uncaught [\w\\]+)(?::|</b>:).{0,400}? in (?:<b>)?[^\s<]+\.php(?:</b>)?(?::\d+| on line (?:<b>)?\d+)",
                r"Stack trace:\s*\n#0 ",
                r"PHP (?:Fatal|Parse) error:",
            ]),
            d("sql-error", "database error text", &[
                r"SQLSTATE\[\w+\]",
                r"You have an error in your SQL syntax",
                r#"syntax error at or near ""#,
                r"unterminated quoted string at or near",
                r"\bORA-\d{5}:",
                r"\bPG::\w+Error\b",
                r"\bpsycopg2?\.(?:errors\.)?\w+Error\b",
                r"\bjava\.sql\.SQL\w*Exception\b",
                r"\bsqlite3\.OperationalError\b",
                r"Unclosed quotation mark after the character string",
                r"\bSqlException \(0x[0-9A-Fa-f]+\)",
            ]),
            d("django-debug-page", "Django's debug page", &[
                r"You(?:'|&#x27;|&#39;)re seeing this error because you have <code>DEBUG = True</code>",
                r"DEBUG = True</code> in your Django settings file",
            ]),
            d("werkzeug-debugger", "the Werkzeug/Flask interactive debugger", &[
                r"The debugger caught an exception in your WSGI application",
                r"Werkzeug Debugger",
                r"__debugger__=yes",
            ]),
            d("rails-debug-page", "the Rails exception page", &[
                r"Action Controller: Exception caught",
                r"Application Trace \| Framework Trace \| Full Trace",
            ]),
            d("php-framework-debug-page", "a Laravel/Symfony debug page", &[
                r"Whoops! There was an error\.",
                r"\bIlluminate\\[A-Z]\w+\\",
                r"\bSymfony\\Component\\[A-Z]\w+\\",
                r"\bsf-toolbar\b",
            ]),
        ]
    })
}

/// Undoes the HTML that turns a trace into a page: `<br>`, tags and entities.
pub fn html_to_text(body: &str) -> String {
    static BR: OnceLock<Regex> = OnceLock::new();
    static TAG: OnceLock<Regex> = OnceLock::new();
    let br = BR.get_or_init(|| Regex::new(r"(?i)<br\s*/?>").expect("pattern"));
    let tag = TAG.get_or_init(|| Regex::new(r"<[^>]{0,200}>").expect("pattern"));
    let text = br.replace_all(body, "\n");
    let text = tag.replace_all(&text, "");
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Every kind of leak in `body`, at most one per detector, in detector order.
pub fn scan(body: &str) -> Vec<Leak> {
    let text = html_to_text(body);
    let mut out = Vec::new();
    for d in detectors() {
        let hit = d
            .patterns
            .iter()
            .find_map(|p| p.find(body).or_else(|| p.find(&text)).map(|m| (m, p)));
        if let Some((m, _)) = hit {
            out.push(Leak {
                id: d.id,
                what: d.what,
                excerpt: excerpt(m.as_str()),
            });
        }
    }
    out
}

fn excerpt(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > EXCERPT_CHARS {
        let cut: String = one_line.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(body: &str) -> Vec<&'static str> {
        scan(body).into_iter().map(|l| l.id).collect()
    }

    #[test]
    fn runtime_traces() {
        let python = "Traceback (most recent call last):\n  File \"/app/views.py\", line 42, in handler\n    1/0\nZeroDivisionError: division by zero\n";
        assert_eq!(ids(python), ["python-traceback"]);

        let java = "java.lang.NullPointerException: boom\n\tat com.example.OrderService.place(OrderService.java:57)\n\tat java.base/java.lang.Thread.run(Thread.java:833)\n";
        assert_eq!(ids(java), ["java-stack-trace"]);
        // Spring's JSON error with `trace` embeds the same lines, escaped.
        let spring = r#"{"timestamp":"2024-05-01T10:00:00.000+00:00","status":500,"error":"Internal Server Error","trace":"java.lang.IllegalStateException: x\n\tat com.example.Api.get(Api.java:12)\n","path":"/api"}"#;
        assert_eq!(ids(spring), ["java-stack-trace"]);
        assert_eq!(
            ids("Exception in thread \"main\" java.lang.RuntimeException: x"),
            ["java-stack-trace"]
        );

        let dotnet = "System.InvalidOperationException: Sequence contains no elements\n   at System.Linq.ThrowHelper.ThrowNoElementsException()\n   at Api.Controllers.OrdersController.Get(Int32 id) in /src/Api/Controllers/OrdersController.cs:line 31\n";
        assert_eq!(ids(dotnet), ["dotnet-stack-trace"]);

        let go = "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:8 +0x1d\nexit status 2\n";
        assert_eq!(ids(go), ["go-panic"]);

        let rust = "thread 'tokio-runtime-worker' panicked at src/handlers.rs:88:14:\ncalled `Option::unwrap()` on a `None` value\n";
        assert_eq!(ids(rust), ["rust-panic"]);

        let ruby = "NoMethodError (undefined method `name' for nil:NilClass):\n  app/controllers/users_controller.rb:12:in `show'\n";
        assert_eq!(ids(ruby), ["ruby-backtrace"]);

        let php = "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function foo() in /var/www/html/index.php:3\nStack trace:\n#0 {main}\n  thrown in <b>/var/www/html/index.php</b> on line <b>3</b><br />\n";
        assert_eq!(ids(php), ["php-error"]);
    }

    #[test]
    fn express_html_trace_after_unescaping() {
        let express = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Error: boom<br> &nbsp; &nbsp;at /app/index.js:5:9<br> &nbsp; &nbsp;at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)</pre>\n</body>\n</html>\n";
        assert_eq!(ids(express), ["node-stack-trace"]);
    }

    #[test]
    fn sql_errors_and_debug_pages() {
        assert_eq!(
            ids("SQLSTATE[42S22]: Column not found: 1054 Unknown column 'x'"),
            ["sql-error"]
        );
        assert_eq!(
            ids("ERROR:  syntax error at or near \"FROM\""),
            ["sql-error"]
        );
        assert_eq!(
            ids("ORA-00933: SQL command not properly ended"),
            ["sql-error"]
        );
        assert_eq!(
            ids(
                "<p>You&#x27;re seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>"
            ),
            ["django-debug-page"]
        );
        assert_eq!(
            ids("<title>TypeError // Werkzeug Debugger</title>"),
            ["werkzeug-debugger"]
        );
        assert_eq!(
            ids("<title>Action Controller: Exception caught</title>"),
            ["rails-debug-page"]
        );
        assert_eq!(
            ids("<h1>Whoops! There was an error.</h1>"),
            ["php-framework-debug-page"]
        );
    }

    #[test]
    fn clean_error_pages_pass() {
        for body in [
            "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>",
            r#"{"error":"internal_error","message":"Something went wrong. Reference: 7f3c9a","request_id":"7f3c9a"}"#,
            "<h1>Not Found</h1><p>The requested URL was not found on this server. Please look at the site map.</p>",
            "Service temporarily unavailable; retry at 10:30. Error code: E42.",
        ] {
            assert_eq!(ids(body), Vec::<&str>::new(), "{body}");
        }
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        let body = format!("Traceback (most recent call last){}", " x".repeat(500));
        let leak = &scan(&body)[0];
        assert!(leak.excerpt.chars().count() <= EXCERPT_CHARS + 1);
        assert!(!leak.excerpt.contains('\n'));
    }
}
