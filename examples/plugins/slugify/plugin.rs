// slugify: the Rust example, compiled to WebAssembly and run in the wasm tier (Extism ABI). No crates: the
// extism:host/env imports are declared here as the Rust PDK declares them, so it builds offline with plain rustc
// (as `plugbay new --lang rust` does). Built by `npm run build` (scripts/build-examples.mjs) into plugin.wasm.
#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    fn input_length() -> u64;
    fn input_load_u8(offs: u64) -> u8;
    fn alloc(n: u64) -> u64;
    fn store_u8(h: u64, v: u8);
    fn output_set(h: u64, n: u64);
    fn error_set(h: u64);
}

fn input() -> Vec<u8> {
    let n = unsafe { input_length() };
    (0..n).map(|i| unsafe { input_load_u8(i) }).collect()
}

fn to_kernel(data: &[u8]) -> u64 {
    let h = unsafe { alloc(data.len() as u64) };
    for (i, b) in data.iter().enumerate() {
        unsafe { store_u8(h + i as u64, *b) };
    }
    h
}

fn fail(msg: &str) -> i32 {
    unsafe { error_set(to_kernel(msg.as_bytes())) };
    1
}

/// Decodes a JSON string literal (quotes included): every escape, surrogate pairs too.
fn json_string(raw: &str) -> Result<String, &'static str> {
    let body = raw
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or("input must be a JSON string")?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().ok_or("dangling backslash")? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let first = hex4(&mut chars)?;
                let code = if (0xd800..0xdc00).contains(&first) {
                    if chars.next() != Some('\\') || chars.next() != Some('u') {
                        return Err("lone surrogate");
                    }
                    0x10000 + ((first - 0xd800) << 10) + (hex4(&mut chars)? - 0xdc00)
                } else {
                    first
                };
                out.push(char::from_u32(code).ok_or("bad \\u escape")?);
            }
            other => out.push(other), // \" \\ \/
        }
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars) -> Result<u32, &'static str> {
    let hex: String = chars.take(4).collect();
    u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")
}

/// Latin letters with diacritics (and ligatures) as ASCII, so "Crème brûlée" becomes "creme-brulee".
fn ascii_of(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è'..='ë' => "e",
        'ì'..='ï' => "i",
        'ñ' => "n",
        'ò'..='ö' | 'ø' => "o",
        'œ' => "oe",
        'ù'..='ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        _ => return None,
    })
}

/// Lowercase ASCII letters and digits; every other run of characters becomes one `-`, none at either end.
fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = if c.is_ascii_alphanumeric() { None } else { ascii_of(c) };
        if !c.is_ascii_alphanumeric() && folded.is_none() {
            dash = true;
            continue;
        }
        if dash && !out.is_empty() {
            out.push('-');
        }
        dash = false;
        match folded {
            Some(f) => out.push_str(f),
            None => out.push(c),
        }
    }
    out
}

/// Input: a JSON string. Output: its slug as a JSON string ([a-z0-9-] only, so it needs no escaping).
#[no_mangle]
pub extern "C" fn slugify() -> i32 {
    let raw = match String::from_utf8(input()) {
        Ok(s) => s,
        Err(_) => return fail("input is not UTF-8"),
    };
    let text = match json_string(&raw) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let out = format!("\"{}\"", slug(&text));
    unsafe { output_set(to_kernel(out.as_bytes()), out.len() as u64) };
    0
}
