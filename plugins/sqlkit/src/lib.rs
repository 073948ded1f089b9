//! gate's PostgreSQL statement splitter and tokenizer.
//!
//! Shared by the host (`gate migrate trace`) and the migrations plugin, so it
//! has no dependencies and builds both natively and for wasm32-wasip2.
//!
//! * [`split`] cuts a migration script into [`Statement`]s with their byte
//!   span, 1-based start line/column and end line, and the comments that
//!   precede each statement (for `-- gate:ignore RULE reason`). It knows
//!   `--` and nested `/* */` comments, `'…'` strings with `''` escapes,
//!   `E'…'` strings with backslash escapes, `"…"` identifiers, dollar quoting
//!   (`$$…$$`, `$tag$…$tag$`) and `BEGIN ATOMIC … END` function bodies.
//! * [`Script::directives`] are the file-level directives in the comments
//!   before the first statement: `-- no-transaction` (sqlx) and
//!   `-- gate:ignore-file RULE`.
//! * [`tokenize`] gives the tokens of one statement for token-level rules:
//!   keywords and identifiers upper-cased, comments dropped, strings kept as
//!   [`TokenKind::String`] so they never look like keywords.
//!
//! * [`PG_MAJOR_VERSIONS`] are the PostgreSQL major versions gate's rules
//!   know, for validating a `pg_version` wherever it is written.
//!
//! Lines and columns are 1-based; columns count characters, not bytes.

mod lex;

use std::ops::{Range, RangeInclusive};

/// The type of a token's text ([`Token::text`]).
pub use smol_str::SmolStr;

pub use lex::{LexKind, Lexeme, lex, lex_from};

/// The PostgreSQL major versions gate knows, oldest to newest: the policy's
/// `[migrations] pg_version` and the migrations plugin's `pg_version` must be
/// one of these.
pub const PG_MAJOR_VERSIONS: RangeInclusive<u32> = 9..=18;

/// A comment in the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment without its markers (`--`, `/*`, `*/`), trimmed.
    pub text: String,
    pub span: Range<usize>,
    /// 1-based line of the comment's first character.
    pub line: u32,
    /// 1-based line of the comment's last character.
    pub end_line: u32,
    /// `/* … */` rather than `-- …`.
    pub block: bool,
}

impl Comment {
    /// The gate directive this comment carries, if any.
    pub fn directive(&self) -> Option<Directive> {
        parse_directive(&self.text)
    }
}

/// A directive written in a comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `-- no-transaction`: sqlx runs the file outside a transaction.
    NoTransaction,
    /// `-- gate:ignore RULE[,RULE…] reason`: ignore the rules for the next statement.
    Ignore { rules: Vec<String>, reason: String },
    /// `-- gate:ignore-file RULE[,RULE…] [reason]`: ignore the rules for the whole file.
    IgnoreFile { rules: Vec<String>, reason: String },
    /// `-- squawk-disable-assume-in-transaction`: squawk's way of saying that a
    /// file its user assumes to run in a transaction does not.
    DisableAssumedTransaction,
}

/// Parses the text of a comment (without its `--` marker) as a directive.
pub fn parse_directive(text: &str) -> Option<Directive> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("no-transaction") {
        return Some(Directive::NoTransaction);
    }
    if text.eq_ignore_ascii_case("squawk-disable-assume-in-transaction") {
        return Some(Directive::DisableAssumedTransaction);
    }
    let (head, rest) = match text.split_once(char::is_whitespace) {
        Some((h, r)) => (h, r.trim()),
        None => (text, ""),
    };
    // squawk's comments, so files written for squawk keep their ignores: the
    // rest of the line is rules only (commas and spaces), and a file-wide
    // ignore without rules ignores every rule. The rule names are squawk's;
    // the validator maps them to its own.
    let squawk_file = match head.to_ascii_lowercase().as_str() {
        "squawk-ignore" => Some(false),
        "squawk-ignore-file" => Some(true),
        _ => None,
    };
    if let Some(file) = squawk_file {
        let mut rules: Vec<String> = rest
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        if rules.is_empty() && file {
            rules.push("all".into());
        }
        let reason = format!("-- {head}");
        return Some(if file {
            Directive::IgnoreFile { rules, reason }
        } else {
            Directive::Ignore { rules, reason }
        });
    }
    let file = match head.to_ascii_lowercase().as_str() {
        "gate:ignore" => false,
        "gate:ignore-file" => true,
        _ => return None,
    };
    let (rules, reason) = match rest.split_once(char::is_whitespace) {
        Some((r, reason)) => (r, reason.trim()),
        None => (rest, ""),
    };
    let rules: Vec<String> = rules
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    let reason = reason.to_string();
    Some(if file {
        Directive::IgnoreFile { rules, reason }
    } else {
        Directive::Ignore { rules, reason }
    })
}

/// One SQL statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The statement text, from its first token to its last one (the
    /// terminating `;` excluded); inner comments are kept.
    pub text: String,
    /// Byte span of `text` in the script.
    pub span: Range<usize>,
    /// 1-based line and column of the first character.
    pub line: u32,
    pub column: u32,
    /// 1-based line of the last character.
    pub end_line: u32,
    /// Comments between the previous statement's `;` (or the start of the
    /// file) and this statement, in order.
    pub comments: Vec<Comment>,
    /// Whether a `;` ended the statement (false for the last statement of a
    /// script without a final semicolon).
    pub terminated: bool,
    /// A string, quoted identifier, dollar quote or block comment in the
    /// statement never closed; the statement runs to the end of the script.
    pub unterminated_quote: bool,
}

impl Statement {
    /// The statement's tokens, see [`tokenize`].
    pub fn tokens(&self) -> Vec<Token> {
        tokenize(&self.text)
    }

    /// The `gate:ignore` directives on the lines directly above the
    /// statement: a run of comments with no blank line between them and the
    /// statement. Returns `(line, rules, reason)` for each.
    pub fn ignores(&self) -> Vec<(u32, Vec<String>, String)> {
        let mut out = Vec::new();
        let mut next_line = self.line;
        for c in self.comments.iter().rev() {
            if c.end_line + 1 < next_line {
                break;
            }
            if let Some(Directive::Ignore { rules, reason }) = c.directive() {
                out.push((c.line, rules, reason));
            }
            next_line = c.line;
        }
        out.reverse();
        out
    }

    /// What the statement does to the transaction, if it is transaction control.
    pub fn transaction_control(&self) -> Option<TxControl> {
        transaction_control(&self.tokens())
    }

    /// Why the statement cannot run inside a transaction block, if it cannot
    /// (CONCURRENTLY, VACUUM, CREATE DATABASE, …). `ALTER TYPE … ADD VALUE` is
    /// reported too: before PostgreSQL 12 it cannot run in a transaction, and
    /// from 12 the new value is unusable until the transaction commits.
    pub fn transaction_restriction(&self) -> Option<&'static str> {
        transaction_restriction(&self.tokens())
    }

    /// The statement with runs of whitespace collapsed to one space and
    /// comments removed; cut at `max_chars` characters (with `…`) if longer.
    pub fn collapsed(&self, max_chars: usize) -> String {
        collapse(&self.text, max_chars)
    }
}

/// Collapses whitespace and drops comments in `sql`, cutting at `max_chars`.
pub fn collapse(sql: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut last_end = None;
    for l in lex(sql) {
        if matches!(l.kind, LexKind::LineComment | LexKind::BlockComment) {
            continue;
        }
        if let Some(end) = last_end
            && end < l.span.start
        {
            out.push(' ');
        }
        let piece = &sql[l.span.clone()];
        if matches!(l.kind, LexKind::String | LexKind::DollarString) {
            out.push_str(piece);
        } else {
            out.push_str(&piece.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        last_end = Some(l.span.end);
    }
    if out.chars().count() > max_chars {
        let cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        out
    }
}

/// A split script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub statements: Vec<Statement>,
    /// Comments before the first statement (also in that statement's `comments`).
    pub leading_comments: Vec<Comment>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<Comment>,
    /// Every comment of the script, in order, including those inside statements.
    pub comments: Vec<Comment>,
}

impl Script {
    /// The file-level directives: `-- no-transaction` and
    /// `-- gate:ignore-file` in the comments before the first statement.
    pub fn directives(&self) -> Vec<Directive> {
        self.leading_comments
            .iter()
            .filter_map(Comment::directive)
            .filter(|d| matches!(d, Directive::NoTransaction | Directive::IgnoreFile { .. }))
            .collect()
    }

    /// Whether the file asks to run outside a transaction (`-- no-transaction`
    /// before the first statement).
    pub fn no_transaction(&self) -> bool {
        self.directives().contains(&Directive::NoTransaction)
    }

    /// Whether a `-- squawk-disable-assume-in-transaction` comment says the
    /// file does not run in the transaction its user assumes.
    pub fn assumed_transaction_disabled(&self) -> bool {
        self.comments
            .iter()
            .any(|c| c.directive() == Some(Directive::DisableAssumedTransaction))
    }

    /// Every `gate:ignore-file` directive, wherever it is in the file,
    /// with its line: `(line, rules, reason)`.
    pub fn ignore_file_directives(&self) -> Vec<(u32, Vec<String>, String)> {
        self.comments
            .iter()
            .filter_map(|c| match c.directive() {
                Some(Directive::IgnoreFile { rules, reason }) => Some((c.line, rules, reason)),
                _ => None,
            })
            .collect()
    }
}

/// Maps byte offsets to 1-based lines and character columns.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    /// 1-based (line, column) of the byte `offset`; the column counts characters.
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let end = offset.min(self.text.len());
        let column = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count());
        (line as u32 + 1, column as u32 + 1)
    }

    /// 1-based line of the byte `offset`.
    pub fn line(&self, offset: usize) -> u32 {
        self.position(offset).0
    }
}

fn comment(sql: &str, l: &Lexeme, index: &LineIndex) -> Comment {
    let raw = &sql[l.span.clone()];
    let block = l.kind == LexKind::BlockComment;
    let text = if block {
        let inner = raw.strip_prefix("/*").unwrap_or(raw);
        inner.strip_suffix("*/").unwrap_or(inner)
    } else {
        raw.strip_prefix("--").unwrap_or(raw)
    };
    let last = l.span.end.saturating_sub(1).max(l.span.start);
    Comment {
        text: text.trim().to_string(),
        span: l.span.clone(),
        line: index.line(l.span.start),
        end_line: index.line(last),
        block,
    }
}

/// Tracks `BEGIN ATOMIC … END` bodies (SQL-standard function bodies), in
/// which `;` does not end the statement.
#[derive(Default)]
struct Atomic {
    first_word_create: Option<bool>,
    prev_begin: bool,
    depth: usize,
}

impl Atomic {
    fn word(&mut self, word: &str) {
        let first = *self
            .first_word_create
            .get_or_insert_with(|| word.eq_ignore_ascii_case("create"));
        if self.depth > 0 {
            if word.eq_ignore_ascii_case("case") {
                self.depth += 1;
            } else if word.eq_ignore_ascii_case("end") {
                self.depth -= 1;
            }
        } else if first && self.prev_begin && word.eq_ignore_ascii_case("atomic") {
            self.depth = 1;
        }
        self.prev_begin = word.eq_ignore_ascii_case("begin");
    }

    fn other(&mut self) {
        self.first_word_create.get_or_insert(false);
        self.prev_begin = false;
    }
}

/// Tracks whether the statement being split is `COPY … FROM STDIN`: its
/// first token is the word `COPY` and two of its tokens in a row are `FROM
/// STDIN`. Fed every non-comment lexeme as the splitter walks it, so the
/// statement is not lexed again at its `;`.
#[derive(Default)]
struct CopyFromStdin {
    first_word_copy: Option<bool>,
    prev_from: bool,
    from_stdin: bool,
}

impl CopyFromStdin {
    /// The next token: `Some(text)` for a word, `None` for anything else.
    fn token(&mut self, word: Option<&str>) {
        let is = |kw: &str| word.is_some_and(|w| word_is(w, kw));
        self.first_word_copy.get_or_insert_with(|| is("COPY"));
        self.from_stdin |= self.prev_from && is("STDIN");
        self.prev_from = is("FROM");
    }

    fn holds(&self) -> bool {
        self.first_word_copy == Some(true) && self.from_stdin
    }
}

/// Whether the unquoted word `raw` is the keyword `kw` (upper-cased), as
/// [`Token::is`] decides it: by the word upper-cased ([`upper`]), so a
/// non-ASCII word that upper-cases to `kw` (`ſtdin`) is `kw` too.
fn word_is(raw: &str, kw: &str) -> bool {
    if raw.is_ascii() {
        raw.eq_ignore_ascii_case(kw)
    } else {
        upper(raw) == kw
    }
}

/// The end of the inline data of `COPY … FROM STDIN` whose `;` ends at
/// `after`: the end of the line holding `\.`, or the end of the script.
fn copy_data_end(sql: &str, after: usize) -> usize {
    let Some(nl) = sql[after..].find('\n') else {
        return sql.len();
    };
    let mut pos = after + nl + 1;
    while pos < sql.len() {
        let line_end = sql[pos..].find('\n').map_or(sql.len(), |p| pos + p);
        let line = sql[pos..line_end].trim_end_matches('\r');
        let next = (line_end + 1).min(sql.len());
        if line == "\\." {
            return next;
        }
        pos = next;
    }
    sql.len()
}

/// `split(sql).no_transaction()`, without splitting a file that never
/// spells the directive: the host asks it of every sqlx migration it finds.
pub fn declares_no_transaction(sql: &str) -> bool {
    spells(sql, "no-transaction") && split(sql).no_transaction()
}

/// `split(sql).assumed_transaction_disabled()`, without splitting a file
/// that never spells the directive: the host asks it of every plain file.
pub fn disables_assumed_transaction(sql: &str) -> bool {
    spells(sql, "squawk-disable-assume-in-transaction") && split(sql).assumed_transaction_disabled()
}

/// Whether `word`, which holds a `-`, occurs in `text` in any ASCII case. A
/// comment whose text is `word` (compared by [`parse_directive`] with
/// `eq_ignore_ascii_case`) cannot be in a text where this is false. The
/// dashes are found with `memchr`, so a file costs little more than a read.
fn spells(text: &str, word: &str) -> bool {
    let Some(dash) = word.find('-') else {
        return false;
    };
    let (t, w) = (text.as_bytes(), word.as_bytes());
    text.match_indices('-').any(|(i, _)| {
        i.checked_sub(dash)
            .and_then(|start| t.get(start..start + w.len()))
            .is_some_and(|s| s.eq_ignore_ascii_case(w))
    })
}

/// Splits a PostgreSQL script into statements. Empty statements (`;;`) are dropped.
pub fn split(sql: &str) -> Script {
    split_lexed(sql, &mut |_| {})
}

/// [`split`], and every statement's tokens ([`Statement::tokens`]), with
/// the script lexed once: a statement's tokens are made from the script's
/// lexemes inside its span, which are the ones lexing its text again would
/// give (a statement starts and ends at lexeme boundaries, and a lexeme
/// never looks past its own end), so the validator's every statement is
/// not lexed twice. A test holds the two ways equal.
pub fn split_tokens(sql: &str) -> (Script, Vec<Vec<Token>>) {
    let mut lexemes = Vec::new();
    let script = split_lexed(sql, &mut |l| {
        if !matches!(l.kind, LexKind::LineComment | LexKind::BlockComment) {
            lexemes.push(l.clone());
        }
    });
    let mut rest = lexemes.into_iter().peekable();
    let tokens = script
        .statements
        .iter()
        .map(|stmt| {
            let mut tokens = Vec::new();
            while let Some(l) = rest.next_if(|l| l.span.start < stmt.span.end) {
                if l.span.start >= stmt.span.start {
                    tokens.extend(token(sql, l, stmt.span.start));
                }
            }
            tokens
        })
        .collect();
    (script, tokens)
}

/// The splitter; `seen` gets every lexeme it walks, in order (not the data
/// of a `COPY … FROM stdin`, which it skips).
fn split_lexed(sql: &str, seen: &mut dyn FnMut(&Lexeme)) -> Script {
    let index = LineIndex::new(sql);
    let mut script = Script::default();
    let mut pending: Vec<Comment> = Vec::new();
    // (first lexeme's start, last non-comment lexeme's end, unterminated)
    let mut current: Option<(usize, usize, bool)> = None;
    let mut atomic = Atomic::default();
    let mut copy = CopyFromStdin::default();
    let mut first = true;

    let finish = |script: &mut Script,
                  current: &mut Option<(usize, usize, bool)>,
                  pending: &mut Vec<Comment>,
                  terminated: bool,
                  first: &mut bool| {
        if let Some((start, end, unterminated)) = current.take() {
            let (line, column) = index.position(start);
            let comments = std::mem::take(pending);
            if *first {
                script.leading_comments = comments.clone();
                *first = false;
            }
            script.statements.push(Statement {
                text: sql[start..end].to_string(),
                span: start..end,
                line,
                column,
                end_line: index.line(end.saturating_sub(1).max(start)),
                comments,
                terminated,
                unterminated_quote: unterminated,
            });
        }
    };

    let mut lexemes = lex(sql);
    let mut k = 0;
    while k < lexemes.len() {
        let l = lexemes[k].clone();
        k += 1;
        seen(&l);
        match l.kind {
            LexKind::LineComment | LexKind::BlockComment => {
                let c = comment(sql, &l, &index);
                script.comments.push(c.clone());
                if current.is_none() {
                    pending.push(c);
                }
                if l.unterminated
                    && let Some(cur) = current.as_mut()
                {
                    cur.2 = true;
                }
            }
            LexKind::Semicolon if atomic.depth == 0 => {
                let copy_data = current.is_some() && copy.holds();
                finish(&mut script, &mut current, &mut pending, true, &mut first);
                atomic = Atomic::default();
                copy = CopyFromStdin::default();
                if copy_data {
                    // pg_dump style: the data follows on the next line, up to `\.`.
                    let data_end = copy_data_end(sql, l.span.end);
                    lexemes = lex_from(sql, data_end);
                    k = 0;
                }
            }
            kind => {
                if kind == LexKind::Word {
                    let word = &sql[l.span.clone()];
                    atomic.word(word);
                    copy.token(Some(word));
                } else {
                    atomic.other();
                    copy.token(None);
                }
                match current.as_mut() {
                    Some(cur) => {
                        cur.1 = l.span.end;
                        cur.2 |= l.unterminated;
                    }
                    None => current = Some((l.span.start, l.span.end, l.unterminated)),
                }
            }
        }
    }
    finish(&mut script, &mut current, &mut pending, false, &mut first);
    if first {
        // No statement at all: every comment is leading.
        script.leading_comments = pending.clone();
    }
    script.trailing_comments = pending;
    script
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or unquoted identifier; `text` is upper-cased.
    Word,
    /// A `"quoted"` identifier; `text` is the unquoted name, case kept.
    QuotedIdent,
    /// A string constant or dollar-quoted body; `text` is its content.
    String,
    Number,
    /// `$1`, `$2`, …
    Param,
    /// `( ) [ ] , . : ::` and `;`
    Punct,
    Operator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Upper-cased for a word, the content for a quoted identifier or a
    /// string, as written otherwise.
    pub text: SmolStr,
    /// Byte span in the tokenized text.
    pub span: Range<usize>,
}

impl Token {
    /// Whether this is the unquoted word `kw` (give it upper-cased).
    pub fn is(&self, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text == kw
    }

    /// Whether this is a word or quoted identifier, i.e. something that can name an object.
    pub fn is_name(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::QuotedIdent)
    }

    /// The identifier as PostgreSQL folds it: unquoted words lower-cased,
    /// quoted identifiers as written.
    pub fn ident(&self) -> String {
        match self.kind {
            TokenKind::Word if self.text.is_ascii() => self.text.to_ascii_lowercase(),
            TokenKind::Word => self.text.to_lowercase(),
            _ => self.text.to_string(),
        }
    }
}

fn unquote(raw: &str, quote: char) -> SmolStr {
    let inner = raw
        .find(quote)
        .map(|start| &raw[start + 1..])
        .unwrap_or(raw);
    let inner = inner.strip_suffix(quote).unwrap_or(inner);
    if !inner.contains(quote) {
        // Most strings and names: no doubled quote to undo.
        return SmolStr::new(inner);
    }
    let q = quote.to_string();
    inner.replace(&format!("{q}{q}"), &q).into()
}

/// A word as keywords are compared: upper-cased, without Unicode's tables
/// for the ASCII words nearly all are.
fn upper(word: &str) -> String {
    if word.is_ascii() {
        word.to_ascii_uppercase()
    } else {
        word.to_uppercase()
    }
}

/// [`upper`] as a token's text: a short ASCII word (nearly every keyword
/// and name) is upper-cased on the stack and kept inline, never on the heap.
fn upper_text(word: &str) -> SmolStr {
    const INLINE: usize = 23;
    if word.is_ascii() && word.len() <= INLINE {
        let mut buf = [0u8; INLINE];
        let buf = &mut buf[..word.len()];
        buf.copy_from_slice(word.as_bytes());
        buf.make_ascii_uppercase();
        // ASCII in, ASCII out.
        if let Ok(upper) = std::str::from_utf8(buf) {
            return SmolStr::new(upper);
        }
    }
    upper(word).into()
}

/// Tokenizes SQL for token-level rules: comments are dropped, words are
/// upper-cased, quoted identifiers and strings carry their content.
pub fn tokenize(sql: &str) -> Vec<Token> {
    lex(sql)
        .into_iter()
        .filter_map(|l| token(sql, l, 0))
        .collect()
}

/// The token of lexeme `l` of `sql` (`None` for a comment), its span made
/// relative to byte `offset` of `sql`.
fn token(sql: &str, l: Lexeme, offset: usize) -> Option<Token> {
    let raw = &sql[l.span.clone()];
    let (kind, text) = match l.kind {
        LexKind::LineComment | LexKind::BlockComment => return None,
        LexKind::Word => (TokenKind::Word, upper_text(raw)),
        LexKind::QuotedIdent => (TokenKind::QuotedIdent, unquote(raw, '"')),
        LexKind::String => (TokenKind::String, unquote(raw, '\'')),
        LexKind::DollarString => {
            let tag_end = raw[1..].find('$').map_or(raw.len(), |p| p + 2);
            let tag = &raw[..tag_end.min(raw.len())];
            let body = &raw[tag.len()..];
            let body = body.strip_suffix(tag).unwrap_or(body);
            (TokenKind::String, SmolStr::new(body))
        }
        LexKind::Number => (TokenKind::Number, SmolStr::new(raw)),
        LexKind::Param => (TokenKind::Param, SmolStr::new(raw)),
        LexKind::Semicolon | LexKind::Punct => (TokenKind::Punct, SmolStr::new(raw)),
        LexKind::Operator => (TokenKind::Operator, SmolStr::new(raw)),
    };
    Some(Token {
        kind,
        text,
        span: l.span.start - offset..l.span.end - offset,
    })
}

/// Transaction control statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxControl {
    /// `BEGIN`, `START TRANSACTION`
    Begin,
    /// `COMMIT`, `END`
    Commit,
    /// `ROLLBACK`, `ABORT` (not `ROLLBACK TO SAVEPOINT`)
    Rollback,
}

/// Classifies transaction control from a statement's tokens.
pub fn transaction_control(tokens: &[Token]) -> Option<TxControl> {
    let first = tokens.first().filter(|t| t.kind == TokenKind::Word)?;
    let second = tokens.get(1);
    match first.text.as_str() {
        "BEGIN" if !second.is_some_and(|t| t.is("ATOMIC")) => Some(TxControl::Begin),
        "START" if second.is_some_and(|t| t.is("TRANSACTION")) => Some(TxControl::Begin),
        "COMMIT" | "END" if !second.is_some_and(|t| t.is("PREPARED")) => Some(TxControl::Commit),
        "ROLLBACK" | "ABORT" if !second.is_some_and(|t| t.is("TO") || t.is("PREPARED")) => {
            Some(TxControl::Rollback)
        }
        _ => None,
    }
}

/// See [`Statement::transaction_restriction`].
pub fn transaction_restriction(tokens: &[Token]) -> Option<&'static str> {
    let words: Vec<&str> = tokens
        .iter()
        .take_while(|t| t.kind != TokenKind::String)
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.text.as_str())
        .collect();
    let starts = |prefix: &[&str]| words.starts_with(prefix);
    let has = |w: &str| words.contains(&w);
    if (starts(&["CREATE", "INDEX"]) || starts(&["CREATE", "UNIQUE", "INDEX"]))
        && has("CONCURRENTLY")
    {
        return Some("CREATE INDEX CONCURRENTLY cannot run inside a transaction block");
    }
    if starts(&["DROP", "INDEX", "CONCURRENTLY"]) {
        return Some("DROP INDEX CONCURRENTLY cannot run inside a transaction block");
    }
    if starts(&["REINDEX"]) && has("CONCURRENTLY") {
        return Some("REINDEX CONCURRENTLY cannot run inside a transaction block");
    }
    if starts(&["ALTER", "TABLE"]) && has("DETACH") && has("CONCURRENTLY") {
        return Some("DETACH PARTITION CONCURRENTLY cannot run inside a transaction block");
    }
    if starts(&["ALTER", "TYPE"]) && words.windows(2).any(|w| w == ["ADD", "VALUE"]) {
        return Some(
            "ALTER TYPE … ADD VALUE cannot run in a transaction before PostgreSQL 12, and the value is unusable until commit",
        );
    }
    if starts(&["VACUUM"]) {
        return Some("VACUUM cannot run inside a transaction block");
    }
    if starts(&["CREATE", "DATABASE"]) || starts(&["DROP", "DATABASE"]) {
        return Some("CREATE/DROP DATABASE cannot run inside a transaction block");
    }
    if starts(&["CREATE", "TABLESPACE"]) || starts(&["DROP", "TABLESPACE"]) {
        return Some("CREATE/DROP TABLESPACE cannot run inside a transaction block");
    }
    if starts(&["ALTER", "SYSTEM"]) {
        return Some("ALTER SYSTEM cannot run inside a transaction block");
    }
    if starts(&["CREATE", "SUBSCRIPTION"]) || starts(&["DROP", "SUBSCRIPTION"]) {
        return Some(
            "CREATE/DROP SUBSCRIPTION (with a slot) cannot run inside a transaction block",
        );
    }
    None
}

#[cfg(test)]
mod tests;
