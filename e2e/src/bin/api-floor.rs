//! The whole-process API floor (bench scenario 8): a minimal process that
//! connects to the engine, lists the containers carrying one label and
//! inspects every one of them, 16 in flight, then exits. lucidctl's no-op and
//! dry run are whole processes too, so this is the fair floor to compare
//! them with: process start, connections and the engine's own work, nothing else.
//!
//! api-floor LABEL=VALUE     prints the number of containers inspected

#[path = "bench/api.rs"]
#[allow(dead_code)]
mod api;

fn main() {
    let Some(label) = std::env::args().nth(1) else {
        eprintln!("usage: api-floor LABEL=VALUE");
        std::process::exit(2);
    };
    match api::Floor::new().and_then(|mut f| f.measure(&label)) {
        Ok((_, count)) => println!("{count}"),
        Err(e) => {
            eprintln!("api-floor: {e}");
            std::process::exit(1);
        }
    }
}
