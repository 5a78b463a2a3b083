//! The condition language: lexer and parser into an AST with byte positions.
//!
//! ```text
//! condition := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | atom
//! atom      := "(" condition ")"
//!            | ("all" | "any") "(" condition ("," condition)* ")"
//!            | predicate [ "(" [ arg ("," arg)* ] ")" ]
//! arg       := name "=" value | value          a bare value is the predicate's main argument
//! value     := word | number | duration | "$" parameter | "[" value ("," value)* "]"
//! ```

/// A parsed condition. Positions are byte offsets into the condition text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Call { name: String, pos: usize, args: Vec<Arg>, end: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    pub name: Option<(String, usize)>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Word(String, usize),
    Number(u64, usize),
    Duration(String, usize),
    Param(String, usize),
    List(Vec<Value>, usize),
}

impl Value {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Value::Word(_, p)
            | Value::Number(_, p)
            | Value::Duration(_, p)
            | Value::Param(_, p)
            | Value::List(_, p) => *p,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Param(String),
    Number(u64),
    Duration(String),
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Eq,
    End,
}

pub(crate) type ExprError = (usize, String);

const MAX_DEPTH: usize = 32;

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push((Tok::LParen, i)),
            b')' => out.push((Tok::RParen, i)),
            b'[' => out.push((Tok::LBrack, i)),
            b']' => out.push((Tok::RBrack, i)),
            b',' => out.push((Tok::Comma, i)),
            b'=' => {
                if b.get(i + 1) == Some(&b'=') {
                    return Err((i, "unexpected `==`; arguments are written `name = value`".into()));
                }
                out.push((Tok::Eq, i))
            }
            b'$' => {
                i += 1;
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if i == s {
                    return Err((start, "`$` must be followed by a parameter name, e.g. $stay_hours".into()));
                }
                out.push((Tok::Param(src[s..i].to_string()), start));
                continue;
            }
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let text = &src[start..i];
                if text.bytes().all(|x| x.is_ascii_digit()) {
                    let n = text.parse().map_err(|_| (start, format!("number `{text}` is too large")))?;
                    out.push((Tok::Number(n), start));
                } else {
                    out.push((Tok::Duration(text.to_string()), start));
                }
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_string()), start));
                continue;
            }
            b'>' | b'<' | b'!' => {
                return Err((
                    i,
                    format!(
                        "unexpected `{}`; arguments are written `name = value` (`level = high` means high or above, `for = 4h` at least 4 hours), and negation is `not`",
                        char::from(c)
                    ),
                ));
            }
            b'&' | b'|' => {
                return Err((
                    i,
                    format!("unexpected `{}`; combine conditions with `and`, `or`, `all(…)`, `any(…)`", char::from(c)),
                ));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err((i, format!("unexpected character `{ch}`")));
            }
        }
        i += 1;
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
}

pub(crate) fn parse(src: &str) -> Result<Expr, ExprError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    if matches!(p.peek(), Tok::End) {
        return Err((0, "empty condition".into()));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        t => Err((
            p.pos(),
            format!("unexpected {} after the condition; combine conditions with `and` or `or`", describe(t)),
        )),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Param(s) => format!("`${s}`"),
        Tok::Number(n) => format!("`{n}`"),
        Tok::Duration(s) => format!("`{s}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBrack => "`[`".into(),
        Tok::RBrack => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Eq => "`=`".into(),
        Tok::End => "end of condition".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn pos(&self) -> usize {
        self.toks[self.i].1
    }
    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<usize, ExprError> {
        if *self.peek() == want {
            Ok(self.next().1)
        } else {
            Err((self.pos(), format!("expected {what}, found {}", describe(self.peek()))))
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err((self.pos(), format!("condition nested deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        self.enter()?;
        let mut items = vec![self.and()?];
        while self.is_word("or") {
            self.next();
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 { items.pop().expect("one") } else { Expr::Any(items) })
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut items = vec![self.unary()?];
        while self.is_word("and") {
            self.next();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.pop().expect("one") } else { Expr::All(items) })
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.is_word("not") {
            self.next();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let (tok, pos) = self.next();
        match tok {
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            Tok::Ident(name) if name == "all" || name == "any" => {
                self.expect(Tok::LParen, &format!("`(` after `{name}`"))?;
                let mut items = Vec::new();
                loop {
                    if *self.peek() == Tok::RParen {
                        if items.is_empty() {
                            return Err((self.pos(), format!("`{name}(…)` needs at least one condition")));
                        }
                        break;
                    }
                    items.push(self.or()?);
                    if *self.peek() == Tok::Comma {
                        self.next();
                    } else {
                        break;
                    }
                }
                self.expect(Tok::RParen, "`,` or `)`")?;
                Ok(if name == "all" { Expr::All(items) } else { Expr::Any(items) })
            }
            Tok::Ident(name) if name == "and" || name == "or" => {
                Err((pos, format!("expected a condition before `{name}`")))
            }
            Tok::Ident(name) => {
                let mut args = Vec::new();
                let mut end = pos + name.len();
                if *self.peek() == Tok::LParen {
                    self.next();
                    loop {
                        if *self.peek() == Tok::RParen {
                            break;
                        }
                        args.push(self.arg()?);
                        if *self.peek() == Tok::Comma {
                            self.next();
                        } else {
                            break;
                        }
                    }
                    end = self.expect(Tok::RParen, "`,` or `)`")? + 1;
                }
                Ok(Expr::Call { name, pos, args, end })
            }
            Tok::End => Err((pos, "the condition ends too early: expected a predicate".into())),
            t => Err((pos, format!("expected a predicate, found {}", describe(&t)))),
        }
    }

    fn arg(&mut self) -> Result<Arg, ExprError> {
        if let (Tok::Ident(name), Some((Tok::Eq, _))) = (self.peek(), self.toks.get(self.i + 1)) {
            let name = (name.clone(), self.pos());
            self.next();
            self.next();
            return Ok(Arg { name: Some(name), value: self.value(true)? });
        }
        Ok(Arg { name: None, value: self.value(true)? })
    }

    fn value(&mut self, list_ok: bool) -> Result<Value, ExprError> {
        let (tok, pos) = self.next();
        Ok(match tok {
            Tok::Ident(w) => Value::Word(w, pos),
            Tok::Number(n) => Value::Number(n, pos),
            Tok::Duration(d) => Value::Duration(d, pos),
            Tok::Param(p) => Value::Param(p, pos),
            Tok::LBrack if list_ok => {
                let mut items = Vec::new();
                loop {
                    if *self.peek() == Tok::RBrack && !items.is_empty() {
                        break;
                    }
                    items.push(self.value(false)?);
                    if *self.peek() == Tok::Comma {
                        self.next();
                    } else {
                        break;
                    }
                }
                self.expect(Tok::RBrack, "`,` or `]`")?;
                Value::List(items, pos)
            }
            t => return Err((pos, format!("expected a value, found {}", describe(&t)))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, pos: usize, end: usize) -> Expr {
        Expr::Call { name: name.into(), pos, args: vec![], end }
    }

    #[test]
    fn precedence_and_forms() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Expr::Any(vec![call("a", 0, 1), Expr::All(vec![call("b", 5, 6), Expr::Not(Box::new(call("c", 15, 16)))])])
        );
        assert_eq!(
            parse("all(a, any(b))").unwrap(),
            Expr::All(vec![call("a", 4, 5), Expr::Any(vec![call("b", 11, 12)])])
        );
        let Expr::Call { args, .. } = parse("stay(level = high, for = $h, [a, b], 14d, 3)").unwrap() else { panic!() };
        assert_eq!(args.len(), 5);
        assert_eq!(args[0].name, Some(("level".into(), 5)));
        assert_eq!(args[1].value, Value::Param("h".into(), 25));
        assert!(matches!(&args[2].value, Value::List(v, 29) if v.len() == 2));
        assert_eq!(args[3].value, Value::Duration("14d".into(), 37));
        assert_eq!(args[4].value, Value::Number(3, 42));
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(parse("").unwrap_err().0, 0);
        assert_eq!(parse("a b").unwrap_err().0, 2);
        assert_eq!(parse("stay(level >= high)").unwrap_err().0, 11);
        assert_eq!(parse("all()").unwrap_err().0, 4);
        assert_eq!(parse("(a").unwrap_err().0, 2);
        assert_eq!(parse("a and").unwrap_err().0, 5);
        assert_eq!(parse("a && b").unwrap_err().0, 2);
        assert_eq!(parse("x(y = [[1]])").unwrap_err().0, 7);
        let deep = format!("{}a{}", "not (".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().1.contains("nested"));
    }
}
