//! A small JSON value and its writer: the API's answers are built from a
//! few dozen values at a time, so a dependency for it would weigh more
//! than it brings.

use std::fmt::Write;

/// A JSON value.
pub(crate) enum Json {
    Null,
    Int(u64),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    /// `Some(s)` as a string, `None` as null.
    pub fn opt_str(value: Option<&str>) -> Json {
        value.map_or(Json::Null, |s| Json::Str(s.to_string()))
    }

    /// The value as JSON text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Num(x) if x.is_finite() => {
                let _ = write!(out, "{x:.3}");
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `<` too: a name like `</script>` stays inert wherever the
            // text lands.
            c if (c as u32) < 0x20 || c == '<' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_values_nest() {
        let value = Json::Obj(vec![
            ("name", Json::Str("a \"b\"\n\\ </script>\u{1}".into())),
            ("n", Json::Int(3)),
            ("rate", Json::Num(1.5)),
            ("bad", Json::Num(f64::NAN)),
            ("list", Json::Arr(vec![Json::Null, Json::Int(0)])),
        ]);
        assert_eq!(
            value.render(),
            r#"{"name":"a \"b\"\n\\ \u003c/script>\u0001","n":3,"rate":1.500,"bad":null,"list":[null,0]}"#
        );
    }
}
