use crate::cli::{OutputFormat, ValidateArgs};
use crate::output;
use desired_state::model::Kind;
use std::process::ExitCode;

pub fn run(args: &ValidateArgs) -> ExitCode {
    let result = desired_state::load_valid(&args.source.load_options());
    let (state, errors, warnings) = match result {
        Ok((state, warnings)) => (Some(state), Vec::new(), warnings),
        Err(invalid) => (None, invalid.errors, invalid.warnings),
    };
    let counts: Vec<(Kind, usize)> = state
        .as_ref()
        .map(|s| {
            Kind::ALL
                .iter()
                .map(|k| (*k, s.count(*k)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    match args.output {
        OutputFormat::Json => {
            let body = serde_json::json!({
                "valid": errors.is_empty(),
                "counts": counts.iter().map(|(k, n)| (k.as_str().to_string(), serde_json::Value::from(*n))).collect::<serde_json::Map<_, _>>(),
                "errors": errors,
                "warnings": warnings,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            output::print_diagnostics(&warnings);
            output::print_diagnostics(&errors);
            if errors.is_empty() {
                let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
                println!("valid: {}", parts.join(", "));
            } else {
                eprintln!("invalid: {} error(s)", errors.len());
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
