//! Turns a spec's one-line argument syntax into COMMAND DOCS' argument tree.
//!
//! The syntax is Redis's documentation notation: `key value [NX|XX] [EX seconds|PX milliseconds]`.
//! `[...]` is optional, `(...)` groups, `a|b` is a choice (oneof), a `...` suffix means
//! multiple. An UPPER-CASE word is a token: alone it is a pure token (`NX`), followed by a
//! lower-case word it names that argument's token (`EX seconds`). An argument's type is
//! inferred from its name (`key`, `seconds`, `pattern`, ...) or given after a colon
//! (`increment:double`). `table.rs`'s tests parse every spec, so a typo fails the build's tests.

/// One documented argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDoc {
    pub name: String,
    /// COMMAND DOCS type: string, integer, double, key, pattern, unix-time, pure-token, oneof, block.
    pub kind: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub children: Vec<ArgDoc>,
}

/// Parses a syntax line; `Err` names the problem (used by tests over the table).
pub fn parse(syntax: &str) -> Result<Vec<ArgDoc>, String> {
    let tokens = lex(syntax);
    let mut pos = 0;
    let out = seq(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("unexpected '{}'", tokens[pos]));
    }
    Ok(out)
}

fn lex(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '[' | ']' | '(' | ')' | '|' | ' ' => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if c != ' ' {
                    out.push(c.to_string());
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

/// A sequence of items up to `]`, `)`, `|` or the end.
fn seq(t: &[String], pos: &mut usize) -> Result<Vec<ArgDoc>, String> {
    let mut out: Vec<ArgDoc> = Vec::new();
    while let Some(tok) = t.get(*pos) {
        let mut item = match tok.as_str() {
            "]" | ")" | "|" => break,
            "[" | "(" => {
                let close = if tok == "[" { "]" } else { ")" };
                *pos += 1;
                let mut alts = vec![seq(t, pos)?];
                while t.get(*pos).map(String::as_str) == Some("|") {
                    *pos += 1;
                    alts.push(seq(t, pos)?);
                }
                if t.get(*pos).map(String::as_str) != Some(close) {
                    return Err(format!("missing '{close}'"));
                }
                *pos += 1;
                let mut g = group(alts)?;
                g.optional |= close == "]";
                g
            }
            w => {
                *pos += 1;
                let (w, multiple) = match w.strip_suffix("...") {
                    Some(base) => (base, true),
                    None => (w, false),
                };
                let mut a = if is_token(w) {
                    let next = t
                        .get(*pos)
                        .filter(|n| !is_token(n) && !"[]()|".contains(n.as_str()));
                    match next {
                        Some(n) => {
                            *pos += 1;
                            let (n, m) = match n.strip_suffix("...") {
                                Some(b) => (b, true),
                                None => (n.as_str(), false),
                            };
                            let mut a = plain(n);
                            a.token = Some(w.to_string());
                            a.multiple = m;
                            a
                        }
                        None => ArgDoc {
                            name: w.to_ascii_lowercase(),
                            kind: "pure-token",
                            token: Some(w.to_string()),
                            optional: false,
                            multiple: false,
                            children: vec![],
                        },
                    }
                } else {
                    plain(w)
                };
                a.multiple |= multiple;
                a
            }
        };
        if t.get(*pos).map(String::as_str) == Some("...") {
            *pos += 1;
            item.multiple = true;
        }
        out.push(item);
    }
    Ok(out)
}

/// A bracketed group: one alternative of one argument is that argument; otherwise a block or a
/// oneof.
fn group(mut alts: Vec<Vec<ArgDoc>>) -> Result<ArgDoc, String> {
    if alts.iter().any(Vec::is_empty) {
        return Err("empty group".into());
    }
    if alts.len() == 1 {
        let mut items = alts.remove(0);
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        return Ok(composite("block", items));
    }
    let children = alts
        .into_iter()
        .map(|mut items| {
            if items.len() == 1 {
                items.remove(0)
            } else {
                composite("block", items)
            }
        })
        .collect();
    Ok(composite("oneof", children))
}

fn composite(kind: &'static str, children: Vec<ArgDoc>) -> ArgDoc {
    let name = children
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join("-");
    ArgDoc {
        name: if kind == "oneof" {
            "condition".into()
        } else {
            name
        },
        kind,
        token: None,
        optional: false,
        multiple: false,
        children,
    }
}

fn plain(word: &str) -> ArgDoc {
    let (name, kind) = match word.split_once(':') {
        Some((n, "double")) => (n, "double"),
        Some((n, "integer")) => (n, "integer"),
        Some((n, "string")) => (n, "string"),
        Some((n, _)) => (n, "string"),
        None => (word, infer(word)),
    };
    ArgDoc {
        name: name.to_string(),
        kind,
        token: None,
        optional: false,
        multiple: false,
        children: vec![],
    }
}

fn infer(name: &str) -> &'static str {
    match name {
        "key" | "destination" | "source" | "newkey" => "key",
        "pattern" => "pattern",
        "unix-time-seconds" | "unix-time-milliseconds" => "unix-time",
        "seconds" | "milliseconds" | "count" | "index" | "start" | "end" | "stop" | "offset"
        | "increment" | "decrement" | "numkeys" | "cursor" | "limit" | "rank" | "len"
        | "maxlen" | "numerator" | "protover" | "client-id" | "db" | "index1" | "index2" => {
            "integer"
        }
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_syntax() {
        let a = parse(
            "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
        )
        .unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].kind, "key");
        assert_eq!((a[2].kind, a[2].optional), ("oneof", true));
        assert_eq!(a[2].children[0].token.as_deref(), Some("NX"));
        assert_eq!(a[3].kind, "pure-token");
        let ex = &a[4].children[0];
        assert_eq!(
            (ex.name.as_str(), ex.kind, ex.token.as_deref()),
            ("seconds", "integer", Some("EX"))
        );
        assert_eq!(a[4].children[2].kind, "unix-time");
    }

    #[test]
    fn multiples_blocks_and_types() {
        let a = parse("(key value)... [COUNT count] increment:double key...").unwrap();
        assert_eq!((a[0].kind, a[0].multiple), ("block", true));
        assert_eq!(a[0].children.len(), 2);
        assert_eq!(a[1].token.as_deref(), Some("COUNT"));
        assert!(a[1].optional);
        assert_eq!(a[2].kind, "double");
        assert!(a[3].multiple);
        assert!(parse("[a").is_err());
        assert!(parse("a]").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
