//! The subcommands, one module each; every one has `run(args) -> i32`, the exit code.

pub(crate) mod check;
pub(crate) mod compare;
pub(crate) mod demo;
pub(crate) mod drift;
pub(crate) mod load;
pub(crate) mod proxy;
pub(crate) mod risk;
pub(crate) mod run;
pub(crate) mod serve;
