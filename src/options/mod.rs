//! Options, declared once. `table.rs` holds every option's name, type, range, default and
//! doc; parsing (`parse.rs`), its error messages and the TypeScript interfaces in
//! `header.d.ts` (`render.rs`, checked by a test) all follow from it. The binding only turns
//! JS values into [`Value`]s, so everything here is tested without Node.

pub mod parse;
pub mod render;
pub mod table;

use crate::error::{Error, Result};
pub use crate::value::Value;

/// What an option holds.
#[derive(Debug)]
pub enum Kind {
    Int {
        min: u32,
        max: u32,
    },
    Number {
        min: f64,
        max: f64,
    },
    Bool,
    /// A non-empty string without NUL, at most `max_len` bytes.
    Text {
        max_len: usize,
    },
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A nested object with options of its own.
    Object(&'static OptionSet),
    /// `false` (off), `true` (on, with the nested defaults) or the nested object.
    Toggle(&'static OptionSet),
    /// A non-empty array of short `[a-z_]` names (scopes).
    Names,
}

/// An option's default: a value the parser uses, or a description for the docs only.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    None,
    Int(u32),
    Number(f64),
    Bool(bool),
    Choice(&'static str),
    /// Computed at run time (an environment variable, a generated id): the docs say how.
    Described(&'static str),
}

#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Default,
    pub required: bool,
    /// The TypeScript type, when the kind alone does not say it.
    pub ts_type: Option<&'static str>,
    pub doc: &'static str,
}

/// The options of one object (`new AudioCapture(options)`, `input`, ...).
#[derive(Debug)]
pub struct OptionSet {
    /// The TypeScript interface name; empty for a nested object typed inline.
    pub interface: &'static str,
    /// How messages name the object itself: `options`, `input`, `startCapture options`.
    pub label: &'static str,
    /// Prepended to option names in messages: `input.` for `input.file`.
    pub prefix: &'static str,
    pub doc: &'static str,
    pub specs: &'static [Spec],
}

impl OptionSet {
    pub fn spec(&self, name: &str) -> Option<&'static Spec> {
        self.specs.iter().find(|s| s.name == name)
    }
}

/// Reads the options of one object, checked against its [`OptionSet`].
pub struct Reader<'a> {
    set: &'static OptionSet,
    fields: &'a [(String, Value)],
}

impl<'a> Reader<'a> {
    /// `value` must be an object whose keys are all declared; absent means "all defaults".
    pub fn new(set: &'static OptionSet, value: &'a Value) -> Result<Self> {
        let fields: &[(String, Value)] = match value {
            Value::Object(fields) => fields,
            v if v.is_absent() => &[],
            v => {
                return Err(Error::invalid_option(
                    set.label,
                    format!("must be an object (got {})", v.describe()),
                ))
            }
        };
        let unknown: Vec<&str> = fields
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| set.spec(k).is_none())
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = set.specs.iter().map(|s| s.name).collect();
            return Err(Error::invalid_option(
                set.label,
                format!(
                    "unknown option(s) {}; known: {}",
                    unknown.join(", "),
                    known.join(", ")
                ),
            ));
        }
        Ok(Self { set, fields })
    }

    fn spec(&self, name: &str) -> Result<&'static Spec> {
        self.set
            .spec(name)
            .ok_or_else(|| Error::Internal(format!("option {name} is not declared")))
    }

    /// The full name for messages: `input.file`.
    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.set.prefix)
    }

    fn error(&self, name: &str, reason: impl Into<String>) -> Error {
        Error::invalid_option(&self.full(name), reason)
    }

    /// The value given for `name`, `None` when absent, `undefined` or `null`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_absent())
    }

    pub fn given(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn required(&self, name: &str, spec: &Spec) -> Result<()> {
        if spec.required && !self.given(name) {
            return Err(self.error(name, format!("is required: {}", spec.doc)));
        }
        Ok(())
    }

    /// An integer option, `None` when absent and without a default.
    pub fn int(&self, name: &str) -> Result<Option<u32>> {
        let spec = self.spec(name)?;
        let Kind::Int { min, max } = spec.kind else {
            return Err(Error::Internal(format!("{name} is not an integer option")));
        };
        self.required(name, spec)?;
        let Some(value) = self.get(name) else {
            return Ok(match spec.default {
                Default::Int(n) => Some(n),
                _ => None,
            });
        };
        let expected = format!("must be an integer from {min} to {max}");
        let Value::Number(n) = *value else {
            return Err(self.error(name, expected));
        };
        if !n.is_finite() || n.fract() != 0.0 || n < min as f64 || n > max as f64 {
            return Err(self.error(name, format!("{expected} (got {n})")));
        }
        Ok(Some(n as u32))
    }

    /// A number option, `None` when absent and without a default.
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        let spec = self.spec(name)?;
        let Kind::Number { min, max } = spec.kind else {
            return Err(Error::Internal(format!("{name} is not a number option")));
        };
        let Some(value) = self.get(name) else {
            return Ok(match spec.default {
                Default::Number(n) => Some(n),
                _ => None,
            });
        };
        let expected = format!("must be a number from {min} to {max}");
        match *value {
            Value::Number(n) if n.is_finite() && (min..=max).contains(&n) => Ok(Some(n)),
            Value::Number(n) => Err(self.error(name, format!("{expected} (got {n})"))),
            _ => Err(self.error(name, expected)),
        }
    }

    /// A toggle: `None` when absent or `false`; its nested options (all defaults for `true`).
    pub fn toggle(&self, name: &str) -> Result<Option<Reader<'a>>> {
        let spec = self.spec(name)?;
        let Kind::Toggle(set) = spec.kind else {
            return Err(Error::Internal(format!("{name} is not a toggle option")));
        };
        match self.get(name) {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::Bool(true)) => Reader::new(set, &Value::Undefined).map(Some),
            Some(v @ Value::Object(_)) => Reader::new(set, v).map(Some),
            Some(v) => Err(self.error(
                name,
                format!(
                    "must be true, false or an object like {} (got {})",
                    set.doc,
                    v.describe()
                ),
            )),
        }
    }

    /// A boolean option, `None` when absent and without a default.
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        let spec = self.spec(name)?;
        self.required(name, spec)?;
        match self.get(name) {
            None => Ok(match spec.default {
                Default::Bool(b) => Some(b),
                _ => None,
            }),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.error(name, "must be a boolean")),
        }
    }

    /// A string option (non-empty, no NUL, bounded), `None` when absent.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        let spec = self.spec(name)?;
        let Kind::Text { max_len } = spec.kind else {
            return Err(Error::Internal(format!("{name} is not a string option")));
        };
        self.required(name, spec)?;
        self.get(name)
            .map(|v| self.string_value(name, v, max_len))
            .transpose()
    }

    fn string_value(&self, name: &str, value: &Value, max_len: usize) -> Result<String> {
        let Value::String(s) = value else {
            return Err(self.error(name, "must be a string"));
        };
        if s.is_empty() {
            return Err(self.error(name, "must not be empty"));
        }
        if s.len() > max_len {
            return Err(self.error(name, format!("must be at most {max_len} bytes")));
        }
        if s.contains('\0') {
            return Err(self.error(name, "must not contain NUL"));
        }
        Ok(s.clone())
    }

    /// One of the option's choices (its default when absent).
    pub fn choice(&self, name: &str) -> Result<&'static str> {
        let spec = self.spec(name)?;
        let Kind::Choice(choices) = spec.kind else {
            return Err(Error::Internal(format!("{name} is not a choice option")));
        };
        let Some(value) = self.get(name) else {
            return match spec.default {
                Default::Choice(c) => Ok(c),
                _ => Err(Error::Internal(format!("{name} has no default"))),
            };
        };
        // A choice that is a number (`16000`) is given as a number, the others as strings.
        let numeric = |c: &str| c.bytes().all(|b| b.is_ascii_digit());
        let expected = format!("must be one of {}", choices.join(", "));
        let found = match value {
            Value::String(s) => choices.iter().copied().find(|c| !numeric(c) && c == s),
            Value::Number(n) => choices
                .iter()
                .copied()
                .find(|c| numeric(c) && c.parse::<f64>().ok() == Some(*n)),
            _ => None,
        };
        let got = match value {
            Value::String(s) => format!("{s:?}"),
            Value::Number(n) => n.to_string(),
            v => v.describe().to_owned(),
        };
        found.ok_or_else(|| self.error(name, format!("{expected} (got {got})")))
    }

    /// A nested object option, `None` when absent.
    pub fn object(&self, name: &str) -> Result<Option<Reader<'a>>> {
        let spec = self.spec(name)?;
        let Kind::Object(set) = spec.kind else {
            return Err(Error::Internal(format!("{name} is not an object option")));
        };
        self.required(name, spec)?;
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Reader::new(set, v).map(Some),
            Some(_) => Err(self.error(name, format!("must be an object like {}", set.doc))),
        }
    }

    /// A non-empty list of `[a-z_]` names, `None` when absent.
    pub fn names(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.spec(name)?;
        const SHAPE: &str = "must be a non-empty array of scope names like [\"transcribe\"]";
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(self.error(name, SHAPE));
        };
        if items.is_empty() || items.len() > 32 {
            return Err(self.error(name, SHAPE));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let s = self.string_value(name, item, 64)?;
            if !s.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(self.error(name, format!("{SHAPE} (got {s:?})")));
            }
            out.push(s);
        }
        Ok(Some(out))
    }
}
