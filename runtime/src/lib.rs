//! redlua: typed Redis Lua scripts, checked at compile time.
#![allow(dead_code)] // TEMP while the runtime is being written

mod script;
pub use script::Script;
