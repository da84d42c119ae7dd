//! The JSON codec of the metadata that fwdprop writes into safetensors
//! files (and of anything else R hands it): R objects to JSON and back,
//! through serde_json, and a check that no JSON object repeats a key
//! (serde_json, like most readers, silently keeps the last).

use std::collections::HashSet;
use std::fmt;

use extendr_api::prelude::*;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::convert::{error_list, other, string_arg};

// ---- repeated keys -------------------------------------------------------

/// The first key (in the order of the text) that an object of the JSON
/// `text` repeats, after the keys that lead to that object; `None` when
/// every object's keys are distinct, or when `text` is not JSON (which the
/// parser that reads it then reports). Keys are compared as JSON strings
/// decode (`"a"` and `"\u0061"` are the same key). One pass over the text,
/// each key hashed once.
pub(crate) fn repeated_key(text: &str) -> Option<Vec<String>> {
    let mut de = serde_json::Deserializer::from_str(text);
    KeyCheck.deserialize(&mut de).ok().flatten()
}

/// A visitor over any JSON value that finds a repeated key (see
/// [`repeated_key`]).
struct KeyCheck;

impl<'de> DeserializeSeed<'de> for KeyCheck {
    type Value = Option<Vec<String>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyCheck {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        let mut found = None;
        while found.is_none() {
            match seq.next_element_seed(KeyCheck)? {
                Some(f) => found = f,
                None => return Ok(None),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let found = loop {
            let Some(key) = map.next_key::<String>()? else {
                return Ok(None);
            };
            if seen.contains(&key) {
                map.next_value::<IgnoredAny>()?;
                break vec![key];
            }
            if let Some(mut path) = map.next_value_seed(KeyCheck)? {
                path.insert(0, key);
                break path;
            }
            seen.insert(key);
        };
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(Some(found))
    }
}

/// A name from a file for a message: quoted, with control characters
/// (NUL included, which R strings cannot hold) escaped, and cut short.
pub(crate) fn quoted(name: &str) -> String {
    const MAX_CHARS: usize = 80;
    match name.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}...", &name[..cut]),
        None => format!("{name:?}"),
    }
}

// ---- JSON of the metadata ------------------------------------------------

/// R object to JSON: atomic vectors become arrays (whatever their length;
/// NA and non-finite numbers become null), lists with names objects, other
/// lists arrays, NULL null.
fn robj_to_json(x: &Robj) -> std::result::Result<Value, String> {
    let array = |items: Vec<Value>| Value::Array(items);
    Ok(match x.rtype() {
        Rtype::Null => Value::Null,
        Rtype::Logicals => array(
            x.as_logical_slice()
                .unwrap_or(&[])
                .iter()
                .map(|b| {
                    if b.is_na() {
                        Value::Null
                    } else {
                        Value::Bool(b.is_true())
                    }
                })
                .collect(),
        ),
        Rtype::Integers => array(
            x.as_integer_slice()
                .unwrap_or(&[])
                .iter()
                .map(|&i| if i == i32::MIN { Value::Null } else { Value::from(i) })
                .collect(),
        ),
        Rtype::Doubles => array(
            x.as_real_slice()
                .unwrap_or(&[])
                .iter()
                .map(|&v| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
                .collect(),
        ),
        Rtype::Strings => array(
            x.as_str_iter()
                .map(|it| {
                    it.map(|s| {
                        if s.is_na() {
                            Value::Null
                        } else {
                            Value::String(s.to_string())
                        }
                    })
                    .collect()
                })
                .unwrap_or_default(),
        ),
        Rtype::List => {
            let list = x.as_list().ok_or_else(|| "a list that cannot be read".to_string())?;
            let items: Vec<Value> = list
                .values()
                .map(|v| robj_to_json(&v))
                .collect::<std::result::Result<_, _>>()?;
            match x.names() {
                Some(names) => {
                    let names: Vec<String> = names.map(str::to_string).collect();
                    Value::Object(names.into_iter().zip(items).collect())
                }
                None => array(items),
            }
        }
        other => return Err(format!("cannot store an R object of type {other:?} as JSON")),
    })
}

/// Whether a JSON number is a whole number that fits an R integer (not
/// R's NA, i32::MIN) and was written without a fraction or exponent.
fn as_r_integer(n: &serde_json::Number) -> Option<i32> {
    n.as_i64()
        .and_then(|i| i32::try_from(i).ok())
        .filter(|&i| i != i32::MIN)
}

/// JSON to an R object: arrays of strings, numbers or booleans (with
/// nulls as NA) become atomic vectors (numbers an integer vector when all
/// are whole numbers written as such, doubles otherwise), other arrays
/// lists, objects named lists, a lone scalar a vector of length 1, null
/// NULL. Strings with a NUL character (which R cannot hold) are refused.
fn json_to_robj(v: &Value) -> std::result::Result<Robj, String> {
    fn nul_free(s: &str) -> std::result::Result<&str, String> {
        if s.contains('\0') {
            Err("a string holds a NUL character".to_string())
        } else {
            Ok(s)
        }
    }
    Ok(match v {
        Value::Null => Robj::from(()),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => json_to_robj(&Value::Array(vec![v.clone()]))?,
        Value::Array(items) if items.is_empty() => List::from_values(Vec::<Robj>::new()).into(),
        Value::Array(items) => {
            let scalar = |f: fn(&Value) -> bool| items.iter().all(|i| i.is_null() || f(i)) && items.iter().any(f);
            if scalar(Value::is_string) {
                let strings: Vec<&str> = items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => nul_free(s),
                        _ => Ok(<&str>::na()),
                    })
                    .collect::<std::result::Result<_, _>>()?;
                Strings::from_values(strings).into()
            } else if scalar(Value::is_number) {
                let ints: Option<Vec<Rint>> = items
                    .iter()
                    .map(|i| match i {
                        Value::Number(n) => as_r_integer(n).map(Rint::from),
                        _ => Some(Rint::na()),
                    })
                    .collect();
                match ints {
                    Some(ints) => Integers::from_values(ints).into(),
                    None => Doubles::from_values(items.iter().map(|i| match i {
                        Value::Number(n) => Rfloat::from(n.as_f64().unwrap_or(f64::NAN)),
                        _ => Rfloat::na(),
                    }))
                    .into(),
                }
            } else if scalar(Value::is_boolean) {
                Logicals::from_values(items.iter().map(|i| match i {
                    Value::Bool(b) => Rbool::from(*b),
                    _ => Rbool::na(),
                }))
                .into()
            } else {
                let values: Vec<Robj> = items.iter().map(json_to_robj).collect::<std::result::Result<_, _>>()?;
                List::from_values(values).into()
            }
        }
        Value::Object(map) => {
            let mut names = Vec::with_capacity(map.len());
            let mut values = Vec::with_capacity(map.len());
            for (k, v) in map {
                names.push(nul_free(k)?.to_string());
                values.push(json_to_robj(v)?);
            }
            List::from_names_and_values(names, values)
                .map_err(|e| e.to_string())?
                .into()
        }
    })
}

/// `x` (atomic vectors, lists, NULL) as a JSON string, doubles in their
/// shortest form that reads back exactly.
/// @keywords internal
/// @noRd
#[extendr]
fn json_encode_impl(x: Robj) -> extendr_api::Result<Robj> {
    let value = robj_to_json(&x).map_err(other)?;
    serde_json::to_string(&value)
        .map(Robj::from)
        .map_err(|e| other(e.to_string()))
}

/// The JSON string `x` as an R object (see [`json_to_robj`]):
/// `list(value = ...)`, or `list(error = "...")` when it is not JSON.
/// @keywords internal
/// @noRd
#[extendr]
fn json_decode_impl(x: Robj) -> extendr_api::Result<Robj> {
    let text = string_arg(&x, "x")?;
    let parsed = serde_json::from_str::<Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| match repeated_key(&text) {
            Some(path) => Err(format!("an object in it repeats the key {}", quoted(path.last().map_or("", String::as_str)))),
            None => Ok(v),
        })
        .and_then(|v| json_to_robj(&v));
    match parsed {
        Ok(value) => Ok(List::from_names_and_values(["value"], [value])?.into()),
        Err(e) => error_list(e),
    }
}

extendr_module! {
    mod json;
    fn json_encode_impl;
    fn json_decode_impl;
}
