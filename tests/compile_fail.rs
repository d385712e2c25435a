//! Every compile-time check, as a trybuild case with its expected error.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test compile_fail`.

#[test]
fn compile_errors_point_into_the_lua_file() {
    // trybuild compiles the cases in a crate under target/; point the macro
    // back at this crate's lua/ folder.
    std::env::set_var("REDLUA_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"));
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
