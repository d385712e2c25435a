//! Proc-macro of redlua. Use it through `redlua::redis_script`.
#![allow(dead_code)] // TEMP while the phases are being written

mod assemble;
mod diag;
mod header;
