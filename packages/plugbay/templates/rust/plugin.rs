// A plugbay plugin in Rust, with no crates: the extism:host/env imports are declared here as the Rust PDK declares
// them, so it builds offline with plain rustc. Build: sh build.sh
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

/// Input: a JSON string (the manifest's schema rules out quotes and backslashes). Output: the greeting as JSON.
#[no_mangle]
pub extern "C" fn greet() -> i32 {
    let raw = match String::from_utf8(input()) {
        Ok(s) => s,
        Err(_) => return fail("input is not UTF-8"),
    };
    if raw.len() < 2 || !raw.starts_with('"') || !raw.ends_with('"') {
        return fail("input must be a JSON string");
    }
    let out = format!("\"Hello, {}!\"", &raw[1..raw.len() - 1]);
    let h = to_kernel(out.as_bytes());
    unsafe { output_set(h, out.len() as u64) };
    0
}
