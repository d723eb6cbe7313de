//! A compact JSON writer that keeps keys in the order they are written, as
//! CloudTrail does (`serde_json::Value` would sort them). Writing straight
//! into the file buffer also keeps the generator fast.

/// Appends `s` to `out` as a JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// An object being written; `Obj::new` writes `{`, `end` writes `}`.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(':');
        self.out
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        let out = self.key(k);
        string(out, v);
        self
    }

    /// A string field whose value is built by `f` (no escaping: ASCII
    /// without quotes or backslashes only).
    pub fn str_with(&mut self, k: &str, f: impl FnOnce(&mut String)) -> &mut Self {
        let out = self.key(k);
        out.push('"');
        f(out);
        out.push('"');
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }

    pub fn num(&mut self, k: &str, v: u64) -> &mut Self {
        let out = self.key(k);
        out.push_str(itoa(v).as_str());
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).push_str(if v { "true" } else { "false" });
        self
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k).push_str("null");
        self
    }

    /// A value already in JSON form.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k).push_str(json);
        self
    }

    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj)) -> &mut Self {
        let out = self.key(k);
        let mut o = Obj::new(out);
        f(&mut o);
        o.end();
        self
    }

    pub fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr)) -> &mut Self {
        let out = self.key(k);
        let mut a = Arr::new(out);
        f(&mut a);
        a.end();
        self
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// An array being written.
pub struct Arr<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Arr<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('[');
        Arr { out, first: true }
    }

    fn sep(&mut self) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        let out = self.sep();
        string(out, v);
        self
    }

    pub fn obj(&mut self, f: impl FnOnce(&mut Obj)) -> &mut Self {
        let out = self.sep();
        let mut o = Obj::new(out);
        f(&mut o);
        o.end();
        self
    }

    pub fn end(self) {
        self.out.push(']');
    }
}

fn itoa(v: u64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_ordered_compact_valid_json() {
        let mut s = String::new();
        let mut o = Obj::new(&mut s);
        o.str("b", "say \"hi\"\\\n\u{1}")
            .num("a", 3)
            .null("n")
            .arr("l", |a| {
                a.str("x").obj(|o| {
                    o.bool("t", true);
                });
            })
            .raw("r", "{\"k\":1}");
        o.end();
        assert_eq!(
            s,
            r#"{"b":"say \"hi\"\\\n\u0001","a":3,"n":null,"l":["x",{"t":true}],"r":{"k":1}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["b"], "say \"hi\"\\\n\u{1}");
    }
}
