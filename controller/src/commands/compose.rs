use crate::cli::{ExportCommand, ImportCommand};
use std::process::ExitCode;

pub fn export(cmd: ExportCommand) -> ExitCode {
    let ExportCommand::Compose(_args) = cmd;
    eprintln!("error: export compose is not implemented yet");
    ExitCode::FAILURE
}

pub fn import(cmd: ImportCommand) -> ExitCode {
    let ImportCommand::Compose(_args) = cmd;
    eprintln!("error: import compose is not implemented yet");
    ExitCode::FAILURE
}
