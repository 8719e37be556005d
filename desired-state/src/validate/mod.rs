use crate::{DesiredState, Diagnostic}; pub fn validate(_s: &DesiredState) -> Vec<Diagnostic> { Vec::new() }
