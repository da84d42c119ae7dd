//! safetensors files (`read_safetensors()`, `write_safetensors()` in
//! `R/safetensors.R`) through Hugging Face's `safetensors` crate; the JSON
//! of their metadata is `json.rs`'s.
//!
//! A file is read in two calls. [`safetensors_header_impl`] reads only the
//! header, after checking its declared length against the file's size, and
//! checks that the bytes its tensors declare fit in the file: R then checks
//! the names, dtypes and shapes (and builds every message) before any
//! tensor data is read. [`safetensors_read_impl`] reads the file once into
//! memory (never more bytes than the file holds), validates it with the
//! crate (offsets contiguous, each tensor's bytes matching its dtype and
//! shape, the data ending where the file ends) and converts the requested
//! F64 and F32 tensors to R doubles.
//!
//! A name that a header gives to two tensors (or a key that any object in
//! it repeats) is an error: JSON parsers, serde_json and the crate among
//! them, keep the last of repeated keys silently, so `json::repeated_key`
//! reads the header once more with a visitor that sees every key.
//!
//! Nothing a file holds can make these functions panic: every problem with
//! a file comes back to R as `list(error = "...")`, a sentence that the R
//! wrapper puts after the file's name. Errors (`Err`) are kept for
//! arguments the R wrappers should never pass.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use ::safetensors::tensor::{Metadata, TensorView};
use ::safetensors::{Dtype, SafeTensorError, SafeTensors};
use extendr_api::prelude::*;
use extendr_ffi::SEXPTYPE;

use crate::convert::{error_list, other, real_slice_mut, string_arg};
use crate::json::{quoted, repeated_key};

/// The largest header the crate accepts (its `MAX_HEADER_SIZE`).
const MAX_HEADER_BYTES: u64 = 100_000_000;

type FileResult<T> = std::result::Result<T, String>;



/// Opens `path` and checks its size against the header length it starts
/// with. Returns the file (positioned after the 8 length bytes), its size
/// and the header length.
fn open_checked(path: &str) -> FileResult<(File, u64, u64)> {
    let mut file = File::open(path).map_err(|e| format!("cannot be opened ({e})"))?;
    let info = file.metadata().map_err(|e| format!("cannot be read ({e})"))?;
    if !info.is_file() {
        return Err("is not a regular file".to_string());
    }
    let size = info.len();
    if size < 8 {
        return Err(format!(
            "holds {size} byte{}: a safetensors file starts with the 8-byte length of its header",
            if size == 1 { "" } else { "s" }
        ));
    }
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| format!("cannot be read ({e})"))?;
    let n = u64::from_le_bytes(len);
    if n > size - 8 {
        return Err(format!(
            "is truncated or not a safetensors file: its first 8 bytes announce a header of {n} bytes, but only {} follow",
            size - 8
        ));
    }
    if n > MAX_HEADER_BYTES {
        return Err(format!(
            "has a header of {n} bytes, more than the {MAX_HEADER_BYTES} the safetensors format allows"
        ));
    }
    Ok((file, size, n))
}

/// Bytes of a tensor of `dtype` and `shape`, or `None` on overflow.
fn tensor_bytes(dtype: Dtype, shape: &[usize]) -> Option<u128> {
    shape
        .iter()
        .try_fold(dtype.size() as u128, |acc, &d| acc.checked_mul(d as u128))
}

/// A tensor as the header declares it.
#[derive(Debug, Clone, PartialEq)]
struct HeaderTensor {
    name: String,
    dtype: String,
    shape: Vec<usize>,
}

/// The header of a file: its tensors (sorted by name) and its
/// `__metadata__` (sorted by key).
#[derive(Debug)]
struct Header {
    tensors: Vec<HeaderTensor>,
    metadata: Vec<(String, String)>,
}

/// Reads and parses the header of `path` with the crate's own types, and
/// checks that the data its tensors declare fits in the bytes that follow
/// it (so that no size claimed by the header is ever allocated unchecked).
fn read_header(path: &str) -> FileResult<Header> {
    let (mut file, size, n) = open_checked(path)?;
    // n <= size - 8 and n <= MAX_HEADER_BYTES: the file holds these bytes
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(n as usize)
        .map_err(|_| "has a header too large to read".to_string())?;
    file.by_ref()
        .take(n)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 != n {
        return Err("changed while it was being read".to_string());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "has a header that is not UTF-8 text".to_string())?;
    check_unique_keys(text)?;
    let parsed: Metadata =
        serde_json::from_str(text).map_err(|e| format!("has a header that is not valid safetensors JSON ({e})"))?;
    let available = u128::from(size - 8 - n);
    let mut needed: Option<u128> = Some(0);
    let mut tensors = Vec::new();
    for (name, info) in parsed.tensors() {
        needed = needed.and_then(|total| tensor_bytes(info.dtype, &info.shape).and_then(|b| total.checked_add(b)));
        tensors.push(HeaderTensor {
            name,
            dtype: dtype_name(info.dtype),
            shape: info.shape.clone(),
        });
    }
    match needed {
        None => return Err("is damaged: its header declares tensors too large to exist".to_string()),
        Some(total) if total > available => return Err(format!(
            "is truncated or damaged: its header declares {total} bytes of tensor data, but only {available} follow it"
        )),
        Some(_) => {}
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut metadata: Vec<(String, String)> = parsed
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    metadata.sort();
    Ok(Header { tensors, metadata })
}

/// Checks that a header's JSON repeats no key: no two tensors with one
/// name, no `__metadata__` key twice, no key twice in any other object.
fn check_unique_keys(text: &str) -> FileResult<()> {
    let Some(path) = repeated_key(text) else {
        return Ok(());
    };
    let key = path.last().map_or("", String::as_str);
    Err(match path.as_slice() {
        [k] if k == "__metadata__" => "has a header with two \"__metadata__\" entries".to_string(),
        [_] => format!(
            "has two tensors named {} in its header: each tensor must have a name of its own",
            quoted(key)
        ),
        [m, _] if m == "__metadata__" => format!("has two metadata entries named {} in its header", quoted(key)),
        [t, _] => format!("has a header that repeats the key {} in the entry of tensor {}", quoted(key), quoted(t)),
        _ => format!(
            "has a header that repeats the key {} (in {})",
            quoted(key),
            path[..path.len() - 1].iter().map(|p| quoted(p)).collect::<Vec<_>>().join(" > ")
        ),
    })
}

fn dtype_name(dtype: Dtype) -> String {
    format!("{dtype:?}")
}

/// What the crate's validation found wrong with a file, as a sentence.
fn describe_error(e: &SafeTensorError) -> String {
    match e {
        SafeTensorError::InvalidOffset(name) => {
            format!("is damaged: the data offsets of tensor \"{name}\" do not follow on from the previous tensor's")
        }
        SafeTensorError::TensorInvalidInfo => {
            "is damaged: a tensor's data offsets do not match its dtype and shape".to_string()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "is damaged: its tensors' data does not end where the file ends".to_string()
        }
        SafeTensorError::ValidationOverflow => "is damaged: a tensor's shape is too large to exist".to_string(),
        SafeTensorError::HeaderTooLarge => "has a header larger than the safetensors format allows".to_string(),
        SafeTensorError::HeaderTooSmall => "is too short to be a safetensors file".to_string(),
        SafeTensorError::InvalidHeaderLength => "is truncated: its header length runs past its end".to_string(),
        SafeTensorError::InvalidHeader => "has a header that is not UTF-8 text".to_string(),
        SafeTensorError::InvalidHeaderStart | SafeTensorError::InvalidHeaderDeserialization => {
            "has a header that is not valid safetensors JSON".to_string()
        }
        SafeTensorError::TensorNotFound(name) => format!("has no tensor \"{name}\""),
        other => format!("is not a valid safetensors file ({other:?})"),
    }
}

/// Reads the whole of `path` (exactly the bytes it holds) and validates it
/// with the crate; `f` gets the validated view.
fn with_validated_file<T>(path: &str, f: impl FnOnce(&SafeTensors<'_>) -> FileResult<T>) -> FileResult<T> {
    let (mut file, size, n) = open_checked(path)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot be read ({e})"))?;
    let len = usize::try_from(size).map_err(|_| "is too large to read into memory".to_string())?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len)
        .map_err(|_| format!("is too large to read into memory ({size} bytes)"))?;
    file.take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() != len {
        return Err("changed while it was being read".to_string());
    }
    // the header again (the file may have changed since it was read): n
    // <= size - 8 (open_checked)
    let header_end = usize::try_from(n).map_or(len, |n| n.saturating_add(8).min(len));
    if let Ok(text) = std::str::from_utf8(&bytes[8..header_end]) {
        check_unique_keys(text)?;
    }
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| describe_error(&e))?;
    f(&tensors)
}

/// Converts little-endian F64 or F32 bytes to doubles (F32 exactly).
fn decode_into(dst: &mut [f64], data: &[u8], dtype: Dtype) -> FileResult<()> {
    match dtype {
        Dtype::F64 if data.len() == dst.len() * 8 => {
            for (d, chunk) in dst.iter_mut().zip(data.chunks_exact(8)) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                *d = f64::from_le_bytes(b);
            }
            Ok(())
        }
        Dtype::F32 if data.len() == dst.len() * 4 => {
            for (d, chunk) in dst.iter_mut().zip(data.chunks_exact(4)) {
                let mut b = [0u8; 4];
                b.copy_from_slice(chunk);
                *d = f64::from(f32::from_le_bytes(b));
            }
            Ok(())
        }
        Dtype::F64 | Dtype::F32 => Err("is damaged: a tensor's data does not match its shape".to_string()),
        other => Err(format!(
            "holds a tensor of dtype {other:?}; fwdprop reads F64 and F32 tensors"
        )),
    }
}

/// The header of a safetensors file: `list(names, dtypes, shapes,
/// metadata)` (its tensors sorted by name, their dtypes, their shapes as
/// double vectors, and its `__metadata__` as a named character vector), or
/// `list(error = "...")` when the file is not one (see the module docs).
/// @keywords internal
/// @noRd
#[extendr]
fn safetensors_header_impl(path: Robj) -> extendr_api::Result<Robj> {
    let path = string_arg(&path, "path")?;
    let header = match read_header(&path) {
        Ok(h) => h,
        Err(e) => return error_list(e),
    };
    let names: Vec<&str> = header.tensors.iter().map(|t| t.name.as_str()).collect();
    let dtypes: Vec<&str> = header.tensors.iter().map(|t| t.dtype.as_str()).collect();
    // shapes as doubles: a declared dimension may not fit an R integer
    let shapes: Vec<Robj> = header
        .tensors
        .iter()
        .map(|t| t.shape.iter().map(|&d| d as f64).collect_robj())
        .collect();
    let keys: Vec<&str> = header.metadata.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = header.metadata.iter().map(|(_, v)| v.as_str()).collect();
    for s in names.iter().chain(&keys).chain(&values) {
        if s.contains('\0') {
            return error_list("has a header with a NUL character in a name or value".to_string());
        }
    }
    let mut metadata: Robj = Strings::from_values(values).into();
    metadata.set_names(keys)?;
    Ok(List::from_names_and_values(
        ["names", "dtypes", "shapes", "metadata"],
        [
            Strings::from_values(names).into(),
            Strings::from_values(dtypes).into(),
            List::from_values(shapes).into(),
            metadata,
        ],
    )?
    .into())
}

/// The tensors `names` of the safetensors file `path` as R doubles, after
/// the crate's validation of the whole file: a tensor of shape `[a, b]`
/// becomes a `b x a` matrix (the same bytes: C order of `a x b` is column
/// order of `b x a`, so PyTorch's `out x in` weight is fwdprop's `in x
/// out`), one of shape `[a]` a vector. Returns the list, or
/// `list(error = "...")`.
/// @keywords internal
/// @noRd
#[extendr]
fn safetensors_read_impl(path: Robj, names: Robj) -> extendr_api::Result<Robj> {
    let path = string_arg(&path, "path")?;
    let names = names
        .as_string_vector()
        .ok_or_else(|| other("`names` must be a character vector".to_string()))?;
    let read = with_validated_file(&path, |st| {
        let mut views = Vec::with_capacity(names.len());
        for name in &names {
            let view = st.tensor(name).map_err(|e| describe_error(&e))?;
            let fits = |d: usize| i32::try_from(d).is_ok();
            match view.shape() {
                [a] if fits(*a) => {}
                [a, b] if fits(*a) && fits(*b) && a.checked_mul(*b).is_some_and(fits) => {}
                _ => {
                    return Err(format!(
                        "has a tensor \"{name}\" of shape [{}]: fwdprop reads weight matrices and bias vectors of at most 2^31 - 1 values",
                        view.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                    ))
                }
            }
            if !matches!(view.dtype(), Dtype::F64 | Dtype::F32) {
                return Err(format!(
                    "holds tensor \"{name}\" of dtype {:?}; fwdprop reads F64 and F32 tensors",
                    view.dtype()
                ));
            }
            views.push(view);
        }
        let mut out = Vec::with_capacity(views.len());
        for view in views {
            let mut obj = match *view.shape() {
                [a] => Robj::alloc_vector(SEXPTYPE::REALSXP, a),
                [a, b] => Robj::alloc_matrix(SEXPTYPE::REALSXP, b as i32, a as i32),
                _ => return Err("internal: unexpected tensor rank".to_string()),
            };
            let dst = real_slice_mut(&mut obj).map_err(|_| "internal: expected a double vector".to_string())?;
            decode_into(dst, view.data(), view.dtype())?;
            out.push(obj);
        }
        Ok(out)
    });
    match read {
        Ok(values) => {
            let mut list: Robj = List::from_values(values).into();
            list.set_names(names)?;
            Ok(list)
        }
        Err(e) => error_list(e),
    }
}

/// Writes the safetensors file `path`: F64 tensors `names` holding the
/// double vectors `tensors` in the shapes `shapes` (integer vectors, C
/// order), and the `__metadata__` `metadata` (a named character vector).
/// The file is written next to `path` under a temporary name and renamed
/// into place, so a failed write leaves no partial file. Returns NULL, or
/// `list(error = "...")`.
/// @keywords internal
/// @noRd
#[extendr]
fn safetensors_write_impl(
    path: Robj,
    names: Robj,
    tensors: Robj,
    shapes: Robj,
    metadata: Robj,
) -> extendr_api::Result<Robj> {
    let path = string_arg(&path, "path")?;
    let names = names
        .as_string_vector()
        .ok_or_else(|| other("`names` must be a character vector".to_string()))?;
    let tensors = tensors
        .as_list()
        .ok_or_else(|| other("`tensors` must be a list".to_string()))?;
    let shapes = shapes
        .as_list()
        .ok_or_else(|| other("`shapes` must be a list".to_string()))?;
    if tensors.len() != names.len() || shapes.len() != names.len() {
        return Err(other(
            "`names`, `tensors` and `shapes` must have the same length".to_string(),
        ));
    }
    let keys = metadata
        .names()
        .map(|n| n.map(str::to_string).collect::<Vec<_>>())
        .ok_or_else(|| other("`metadata` must be a named character vector".to_string()))?;
    let values = metadata
        .as_string_vector()
        .ok_or_else(|| other("`metadata` must be a named character vector".to_string()))?;
    let info: HashMap<String, String> = keys.into_iter().zip(values).collect();

    let mut data = Vec::with_capacity(names.len());
    for (l, (t, s)) in tensors.values().zip(shapes.values()).enumerate() {
        let values = t
            .as_real_slice()
            .ok_or_else(|| other(format!("`tensors[[{}]]` must be a double vector", l + 1)))?;
        let shape: Vec<usize> = s
            .as_integer_slice()
            .ok_or_else(|| other(format!("`shapes[[{}]]` must be an integer vector", l + 1)))?
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| other(format!("`shapes[[{}]]` must be >= 0", l + 1))))
            .collect::<extendr_api::Result<_>>()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        data.push((shape, bytes));
    }
    let mut views = Vec::with_capacity(names.len());
    for (name, (shape, bytes)) in names.iter().zip(&data) {
        let view = TensorView::new(Dtype::F64, shape.clone(), bytes)
            .map_err(|e| other(format!("tensor \"{name}\": {e:?}")))?;
        views.push((name.clone(), view));
    }
    let target = std::path::Path::new(&path);
    let file_name = match target.file_name() {
        Some(f) => f.to_string_lossy().into_owned(),
        None => return error_list("does not name a file".to_string()),
    };
    let temp = target.with_file_name(format!(".{file_name}.fwdprop-{}.tmp", std::process::id()));
    if let Err(e) = ::safetensors::serialize_to_file(views, &Some(info), &temp) {
        let _ = std::fs::remove_file(&temp);
        return error_list(match e {
            SafeTensorError::IoError(io) => format!("cannot be written ({io})"),
            other => format!("cannot be written ({other:?})"),
        });
    }
    if let Err(e) = std::fs::rename(&temp, target) {
        let _ = std::fs::remove_file(&temp);
        return error_list(format!("cannot be written ({e})"));
    }
    Ok(Robj::from(()))
}

extendr_module! {
    mod safetensors;
    fn safetensors_header_impl;
    fn safetensors_read_impl;
    fn safetensors_write_impl;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A safetensors file from a header text and data bytes.
    fn file_with(header: &str, data: &[u8]) -> tempfile_path::TempPath {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        tempfile_path::TempPath::with_bytes(&bytes)
    }

    /// A minimal temporary file (no extra dependency).
    mod tempfile_path {
        use super::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with_bytes(bytes: &[u8]) -> Self {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let path = std::env::temp_dir().join(format!("fwdprop-st-test-{}-{n}.safetensors", std::process::id()));
                let mut f = File::create(&path).expect("create test file");
                f.write_all(bytes).expect("write test file");
                TempPath(path)
            }
            pub fn as_str(&self) -> &str {
                self.0.to_str().expect("utf-8 temp path")
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn f64_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn a_valid_file_reads_back() {
        let data = f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5, -0.5]);
        let f = file_with(
            r#"{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[0,48]},"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[48,64]}}"#,
            &data,
        );
        let h = read_header(f.as_str()).expect("valid header");
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.tensors[0].name, "0.bias");
        assert_eq!(h.tensors[1].shape, vec![2, 3]);
        assert_eq!(h.metadata, vec![("format".to_string(), "pt".to_string())]);
        let w = with_validated_file(f.as_str(), |st| {
            let v = st.tensor("0.weight").map_err(|e| describe_error(&e))?;
            let mut out = vec![0.0; 6];
            decode_into(&mut out, v.data(), v.dtype())?;
            Ok(out)
        })
        .expect("valid file");
        assert_eq!(w, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn f32_converts_exactly() {
        let vals = [0.1f32, -3.5, f32::MAX, f32::MIN_POSITIVE];
        let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = vec![0.0; 4];
        decode_into(&mut out, &data, Dtype::F32).expect("f32");
        for (o, v) in out.iter().zip(vals) {
            assert_eq!(*o, f64::from(v));
        }
        assert!(decode_into(&mut out, &data[..8], Dtype::F32).is_err());
        assert!(decode_into(&mut out, &data, Dtype::I32).is_err());
    }

    #[test]
    fn a_header_longer_than_the_file_is_refused_before_reading() {
        let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let f = tempfile_path::TempPath::with_bytes(&bytes);
        let e = read_header(f.as_str()).unwrap_err();
        assert!(e.contains("announce a header of"), "{e}");
    }

    #[test]
    fn declared_data_larger_than_the_file_is_refused_before_reading() {
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[1000000000,1000000000],"data_offsets":[0,8]}}"#,
            &[0; 8],
        );
        let e = read_header(f.as_str()).unwrap_err();
        assert!(
            e.contains("declares 8000000000000000000 bytes of tensor data, but only 8"),
            "{e}"
        );
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[18446744073709551615,18446744073709551615,16],"data_offsets":[0,8]}}"#,
            &[0; 8],
        );
        assert!(read_header(f.as_str()).unwrap_err().contains("too large to exist"));
    }

    #[test]
    fn the_crate_refuses_lying_offsets_and_short_files() {
        // offsets that skip bytes
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#,
            &[0; 16],
        );
        assert!(read_header(f.as_str()).is_ok());
        let e = with_validated_file(f.as_str(), |_| Ok(())).unwrap_err();
        assert!(e.contains("offsets"), "{e}");
        // shape that does not match the offsets
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}"#,
            &[0; 24],
        );
        assert!(with_validated_file(f.as_str(), |_| Ok(())).is_err());
        // data past the declared end
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
            &[0; 16],
        );
        assert!(with_validated_file(f.as_str(), |_| Ok(())).unwrap_err().contains("end"));
        // too short for a header length
        let f = tempfile_path::TempPath::with_bytes(&[1, 2, 3]);
        assert!(read_header(f.as_str()).unwrap_err().contains("3 bytes"));
        // not JSON, not UTF-8
        let f = file_with("{not json", &[]);
        assert!(read_header(f.as_str()).unwrap_err().contains("JSON"));
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        let f = tempfile_path::TempPath::with_bytes(&bytes);
        assert!(read_header(f.as_str()).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn a_directory_or_missing_file_is_an_error() {
        assert!(read_header(std::env::temp_dir().to_str().expect("utf-8"))
            .unwrap_err()
            .contains("regular file"));
        assert!(read_header("/nonexistent/fwdprop/file.safetensors")
            .unwrap_err()
            .contains("cannot be opened"));
    }

    #[test]
    fn repeated_keys_are_found_at_any_depth_in_text_order() {
        let found = |t: &str| repeated_key(t);
        let path = |p: &[&str]| Some(p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(found(r#"{"a":1,"b":2}"#), None);
        // the same key in different objects is no repetition
        assert_eq!(found(r#"{"a":{"dtype":1},"b":{"dtype":2},"c":[{"x":1},{"x":2}]}"#), None);
        assert_eq!(found(r#"{"a":1,"b":2,"a":3}"#), path(&["a"]));
        assert_eq!(found(r#"{"a":1,"\u0061":3}"#), path(&["a"]));
        assert_eq!(found(r#"{"__metadata__":{"k":"1","k":"2"},"a":1}"#), path(&["__metadata__", "k"]));
        assert_eq!(found(r#"{"t":{"dtype":"F64","dtype":"F32"}}"#), path(&["t", "dtype"]));
        assert_eq!(found(r#"[1,{"x":[{"y":1,"y":2}]}]"#), path(&["x", "y"]));
        // the first in the text: a repetition inside "a" comes before "a"'s own
        assert_eq!(found(r#"{"a":{"z":1,"z":2},"a":1,"b":1,"b":2}"#), path(&["a", "z"]));
        // not JSON: left to the parser
        assert_eq!(found(r#"{"a":1,"a":"#), None);
        assert_eq!(found(""), None);
        assert_eq!(found("[]"), None);
    }

    #[test]
    fn a_tensor_name_given_twice_is_refused_before_the_crate_keeps_the_last() {
        let data = f64_bytes(&[1.0, 2.0]);
        // same offsets: the crate alone would read this file, with the second entry
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]},"0.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]}}"#,
            &data[..8],
        );
        assert!(SafeTensors::deserialize(&std::fs::read(&f.0).expect("read")).is_ok());
        let e = read_header(f.as_str()).unwrap_err();
        assert_eq!(e, "has two tensors named \"0.weight\" in its header: each tensor must have a name of its own");
        let e = with_validated_file(f.as_str(), |_| Ok(())).unwrap_err();
        assert!(e.contains("two tensors named \"0.weight\""), "{e}");
        // repeated metadata keys, "__metadata__" twice, keys of a tensor's entry
        let f = file_with(
            r#"{"__metadata__":{"fwdprop.activations":"[\"relu\"]","fwdprop.activations":"[\"tanh\"]"},"0.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]}}"#,
            &data[..8],
        );
        assert_eq!(read_header(f.as_str()).unwrap_err(), "has two metadata entries named \"fwdprop.activations\" in its header");
        let f = file_with(
            r#"{"__metadata__":{},"0.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]},"__metadata__":{}}"#,
            &data[..8],
        );
        assert!(read_header(f.as_str()).unwrap_err().contains("two \"__metadata__\" entries"));
        let f = file_with(
            r#"{"0.weight":{"dtype":"F64","shape":[1,1],"shape":[1],"data_offsets":[0,8]}}"#,
            &data[..8],
        );
        assert_eq!(
            read_header(f.as_str()).unwrap_err(),
            "has a header that repeats the key \"shape\" in the entry of tensor \"0.weight\""
        );
        // names in messages: NUL escaped (R strings cannot hold it), long ones cut
        let f = file_with(
            r#"{"a\u0000b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"a\u0000b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
            &data[..8],
        );
        let e = read_header(f.as_str()).unwrap_err();
        assert!(e.contains(r#""a\0b""#) && !e.contains('\0'), "{e}");
        assert_eq!(quoted(&"x".repeat(200)), format!("{:?}...", "x".repeat(80)));
    }

    #[test]
    fn many_tensors_are_read_in_linear_time() {
        // 100,000 tensors: the header's own checks are one pass each
        let n = 100_000;
        let mut header = String::from("{");
        for i in 0..n {
            if i > 0 {
                header.push(',');
            }
            header.push_str(&format!(
                r#""{i}.weight":{{"dtype":"F64","shape":[1,1],"data_offsets":[{},{}]}}"#,
                8 * i,
                8 * i + 8
            ));
        }
        header.push('}');
        let f = file_with(&header, &vec![0u8; 8 * n]);
        let start = std::time::Instant::now();
        let h = read_header(f.as_str()).expect("valid header");
        assert_eq!(h.tensors.len(), n);
        let count = with_validated_file(f.as_str(), |st| Ok(st.len())).expect("valid file");
        assert_eq!(count, n);
        // generous: well under a second in a release build
        assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    }

    #[test]
    fn tensor_bytes_never_overflows() {
        assert_eq!(tensor_bytes(Dtype::F64, &[2, 3]), Some(48));
        assert_eq!(tensor_bytes(Dtype::F32, &[]), Some(4));
        assert_eq!(tensor_bytes(Dtype::F64, &[usize::MAX, usize::MAX, usize::MAX]), None);
    }
}
