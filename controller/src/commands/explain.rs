use crate::cli::ExplainArgs;
use crate::commands::fail;
use std::process::ExitCode;

pub fn run(args: &ExplainArgs) -> ExitCode {
    match crd_schemas::explain::explain(&args.path) {
        Ok(explanation) => {
            // Everything printed comes from our schema; escaping is cheap insurance.
            print!(
                "{}",
                desired_state::diagnostics::escape_controls(&crd_schemas::explain::render(
                    &explanation
                ))
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}
