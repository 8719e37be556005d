use crate::cli::{GraphArgs, GraphFormat};
use crate::output;
use reconcilers::graph::{dot, mermaid, svg, Topology};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Prints the desired state's picture; invalid files print their problems and exit 1.
pub fn run(args: &GraphArgs) -> ExitCode {
    let state = match desired_state::load_valid(&args.source.load_options()) {
        Ok((state, warnings)) => {
            output::print_diagnostics(&warnings);
            state
        }
        Err(invalid) => {
            output::print_diagnostics(&invalid.warnings);
            output::print_diagnostics(&invalid.errors);
            eprintln!(
                "invalid: {} error(s); nothing to draw",
                invalid.errors.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let topology = Topology::from_state(&state);
    let text = match args.output {
        GraphFormat::Dot => dot::render(&topology),
        GraphFormat::Mermaid => mermaid::render(&topology),
        GraphFormat::Svg => svg::render(&topology, &BTreeMap::new()),
    };
    print!("{text}");
    ExitCode::SUCCESS
}
