//! Config loader (what `tollgate check` and `serve` run on a file): any text, never panic.
//! Invalid UTF-8 is refused by `load_file` before parsing, so only UTF-8 reaches the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// `${VAR}` values: some names set, some unset, one set to text that needs quoting.
fn env(name: &str) -> Option<String> {
    match name {
        "SET" | "API_KEY" | "OPENAI_API_KEY" => Some("sk-test".to_string()),
        "EMPTY" => Some(String::new()),
        "WEIRD" => Some("a: [b, {c\n- d".to_string()),
        "NUM" => Some("42".to_string()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match tollgate_config::parse_str(text, "fuzz.yaml", &env) {
        Ok(config) => {
            let _ = format!("{:?}", config.models.len());
        }
        Err(errors) => {
            // `check` prints every error: formatting must not panic either.
            let _ = errors.to_string();
        }
    }
});
