//! JS values ↔ the core's napi-free [`Value`]s: options in (the core's parser does all the
//! validating), events out (the core decides their shape).

use napi::bindgen_prelude::*;
use napi::ValueType;

use crate::error::Error as CoreError;
use crate::value::Value;

use super::events::create_js_error;

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

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            format!("cannot create {what}"),
        ))
    }
}

/// Builds the JS value of `value`. Audio becomes a `Float32Array` over memory JS allocated
/// and owns (a copy): never an external buffer, which Electron's memory cage refuses.
///
/// # Safety
/// `env` must be the live env of the JS thread this runs on.
pub unsafe fn to_js(env: sys::napi_env, value: Value) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: the caller's contract; every value created here is used within `env`, and
    // the array buffer's data pointer is written only within the length it was created with.
    unsafe {
        match value {
            Value::Undefined | Value::Other(_) => {
                check(sys::napi_get_undefined(env, &mut out), "undefined")?
            }
            Value::Null => check(sys::napi_get_null(env, &mut out), "null")?,
            Value::Bool(b) => return bool::to_napi_value(env, b),
            Value::Number(n) => return f64::to_napi_value(env, n),
            Value::String(s) => return String::to_napi_value(env, s),
            Value::Error { code, message } => return create_js_error(env, code, &message),
            Value::Array(items) => {
                check(
                    sys::napi_create_array_with_length(env, items.len(), &mut out),
                    "an array",
                )?;
                for (i, item) in items.into_iter().enumerate() {
                    let item = to_js(env, item)?;
                    check(
                        sys::napi_set_element(env, out, i as u32, item),
                        "an element",
                    )?;
                }
            }
            Value::Object(fields) => {
                check(sys::napi_create_object(env, &mut out), "an object")?;
                for (key, field) in fields {
                    let key = String::to_napi_value(env, key)?;
                    let field = to_js(env, field)?;
                    check(sys::napi_set_property(env, out, key, field), "a property")?;
                }
            }
            Value::Float32Array(samples) => {
                let bytes = std::mem::size_of_val(samples.as_slice());
                let mut data = std::ptr::null_mut();
                let mut buffer = std::ptr::null_mut();
                check(
                    sys::napi_create_arraybuffer(env, bytes, &mut data, &mut buffer),
                    "an ArrayBuffer",
                )?;
                if bytes > 0 {
                    std::ptr::copy_nonoverlapping(
                        samples.as_ptr().cast::<u8>(),
                        data.cast::<u8>(),
                        bytes,
                    );
                }
                check(
                    sys::napi_create_typedarray(
                        env,
                        sys::TypedarrayType::float32_array,
                        samples.len(),
                        buffer,
                        0,
                        &mut out,
                    ),
                    "a Float32Array",
                )?;
            }
        }
    }
    Ok(out)
}
