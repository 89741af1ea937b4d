//! JS values without napi: options arrive as these, events leave as these. The binding
//! converts between them and real JS values; everything else is tested in plain Rust.

/// A JS value, as options arrive from JS and events leave for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// A function, symbol, bigint, ...: never a valid option. Says what it is.
    Other(&'static str),
    /// Audio for JS: becomes a `Float32Array` JS owns (a copy, never an external buffer).
    Float32Array(Vec<f32>),
    /// Becomes a JS `Error` with a stable `code`.
    Error {
        code: &'static str,
        message: String,
    },
}

impl Value {
    /// "a string", "an array", ... for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Other(what) => what,
            Value::Float32Array(_) => "a Float32Array",
            Value::Error { .. } => "an Error",
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null)
    }
}

/// Builds an object value; `Undefined` fields are left out (as optional properties).
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter(|(_, v)| *v != Value::Undefined)
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// An object value from borrowed fields (for tests that build options).
#[cfg(test)]
pub fn fields(fields: &[(&str, Value)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Number(n as f64)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(n as f64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Undefined, Into::into)
    }
}
