//! JS values → [`Value`]s for the core's option parser (`crate::options`), which does all
//! the validating.

use napi::bindgen_prelude::*;
use napi::ValueType;

use crate::error::Error as CoreError;
use crate::options::Value;

/// Options are shallow; anything deeper is refused as such, not walked.
const MAX_DEPTH: usize = 8;
/// More items than any option takes (scopes: 32); the parser refuses the length.
const MAX_ITEMS: u32 = 1024;

/// `None` (an omitted argument) is `undefined`.
pub fn to_value(value: Option<Unknown<'_>>) -> std::result::Result<Value, CoreError> {
    match value {
        None => Ok(Value::Undefined),
        Some(v) => convert(&v, 0),
    }
}

fn internal(e: Error) -> CoreError {
    CoreError::Internal(e.to_string())
}

fn convert(value: &Unknown<'_>, depth: usize) -> std::result::Result<Value, CoreError> {
    if depth > MAX_DEPTH {
        return Ok(Value::Other("a value nested too deeply"));
    }
    Ok(match value.get_type().map_err(internal)? {
        ValueType::Undefined => Value::Undefined,
        ValueType::Null => Value::Null,
        ValueType::Boolean => {
            // SAFETY: the type was checked to be a boolean just above.
            Value::Bool(unsafe { value.cast::<bool>() }.map_err(internal)?)
        }
        ValueType::Number => {
            // SAFETY: the type was checked to be a number just above.
            Value::Number(unsafe { value.cast::<f64>() }.map_err(internal)?)
        }
        ValueType::String => {
            // SAFETY: the type was checked to be a string just above.
            let s = unsafe { value.cast::<String>() };
            Value::String(
                s.map_err(|_| CoreError::invalid_option("options", "strings must be valid UTF-8"))?,
            )
        }
        ValueType::Object if value.is_array().map_err(internal)? => {
            // SAFETY: checked to be an array just above.
            let array = unsafe { value.cast::<Array>() }.map_err(internal)?;
            let mut items = Vec::new();
            for i in 0..array.len().min(MAX_ITEMS + 1) {
                let item: Option<Unknown> = array.get(i).map_err(internal)?;
                items.push(match item {
                    Some(item) => convert(&item, depth + 1)?,
                    None => Value::Undefined,
                });
            }
            Value::Array(items)
        }
        ValueType::Object => {
            // SAFETY: checked to be an object just above.
            let object = unsafe { value.cast::<Object>() }.map_err(internal)?;
            let mut fields = Vec::new();
            for key in Object::keys(&object).map_err(internal)? {
                let field: Unknown = object.get_named_property(&key).map_err(internal)?;
                let field = convert(&field, depth + 1)?;
                fields.push((key, field));
            }
            Value::Object(fields)
        }
        ValueType::Function => Value::Other("a function"),
        ValueType::Symbol => Value::Other("a symbol"),
        _ => Value::Other("an unsupported value"),
    })
}

/// The type of a value, for "must be a function (got a number)".
pub fn describe(value: &Unknown<'_>) -> &'static str {
    convert(value, MAX_DEPTH).map_or("an unknown value", |v| v.describe())
}
