//! Image builds: the content hash of a build context and the tar sent to the engine.

pub mod context;
