//! JSON pointers (`/spec/ports/0`) are how locations are keyed; people read
//! field paths (`spec.ports[0]`).

pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// Builds a pointer from segments, escaping as RFC 6901 asks.
pub fn pointer<I, S>(segments: I) -> String
where
    I: IntoIterator<Item = S>,
    S: ToString,
{
    segments
        .into_iter()
        .map(|s| format!("/{}", s.to_string().replace('~', "~0").replace('/', "~1")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(
            display_path("/spec/ports/0/hostPort"),
            "spec.ports[0].hostPort"
        );
        assert_eq!(
            display_path(&pointer(["spec", "env", "A/B"])),
            "spec.env.A/B"
        );
        assert_eq!(display_path(""), "");
    }
}
