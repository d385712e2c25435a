//! The built `redlua` binary on real files: temporary crates with good and
//! broken scripts, and this repository's own `lua/` folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A throwaway crate: a `Cargo.toml` and the given files under it.
struct TempCrate(PathBuf);

impl TempCrate {
    fn new(files: &[(&str, &str)]) -> TempCrate {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "redlua-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lua")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"t\"\n").unwrap();
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        TempCrate(dir)
    }
}

impl Drop for TempCrate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn redlua(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_redlua"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run the redlua binary");
    (
        status.code().expect("redlua exited by a signal"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const BROKEN: &str = "%key user\n%return int\nlocal n = redis.call(\"GET\", usr)\nreturn n\n";
const GOOD: &str = "%key user\n%arg n int\n%return int\nreturn redis.call(\"INCRBY\", user, n)\n";

#[test]
fn a_broken_script_prints_the_diagnostics_and_exits_1() {
    let c = TempCrate::new(&[("lua/x.lua", BROKEN), ("lua/good.lua", GOOD)]);
    let (code, out, err) = redlua(&c.0, &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out,
        "\
error: undefined variable `usr`
 --> lua/x.lua:3:29
  |
3 | local n = redis.call(\"GET\", usr)
  |                             ^^^ not found in this scope
  |
  = help: did you mean `user`?

warning: `%key user` is never used
 --> lua/x.lua:1:6
  |
1 | %key user
  |      ^^^^ declared here
  |
  = help: remove the `%key` line, or use `user` in the script

checked 2 scripts: 1 error, 1 warning
"
    );
    assert_eq!(err, "");
}

#[test]
fn good_scripts_exit_0_and_warnings_do_not_fail() {
    let warn = "%key user\n%arg unused int\nreturn redis.call(\"GET\", user)\n";
    let c = TempCrate::new(&[("lua/good.lua", GOOD), ("lua/sub/warn.lua", warn)]);
    let (code, out, _) = redlua(&c.0, &["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("warning: `%arg unused` is never used\n --> lua/sub/warn.lua:2:6\n"));
    assert!(
        out.ends_with("checked 2 scripts: 0 errors, 1 warning\n"),
        "{out}"
    );
    // From a subfolder, the crate root is found above it.
    let (code, out, _) = redlua(&c.0.join("lua/sub"), &["check", "."]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("checked 1 script: 0 errors, 1 warning\n"),
        "{out}"
    );
}

#[test]
fn an_include_only_file_is_checked_through_its_includer() {
    // lib/util.lua uses `n`, declared by the script including it: checked on
    // its own it would be an error.
    let c = TempCrate::new(&[
        (
            "lua/main.lua",
            "%arg n int\n%include \"lib/util\"\n%return int\nreturn twice()\n",
        ),
        (
            "lua/lib/util.lua",
            "local function twice()\n  return n * 2 +\nend\n",
        ),
    ]);
    let (code, out, _) = redlua(&c.0, &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(" --> lua/lib/util.lua:2:16\n"), "{out}");
    assert!(
        out.contains("= note: included from lua/main.lua:2"),
        "{out}"
    );
    assert!(
        out.ends_with("checked 1 script: 1 error, 0 warnings\n"),
        "{out}"
    );
    // Named on the command line, it is checked as a script.
    let (_, out, _) = redlua(&c.0, &["check", "lua/lib/util.lua"]);
    assert!(out.contains("checked 1 script:"), "{out}");
}

#[test]
fn json_has_every_field() {
    let c = TempCrate::new(&[("lua/x.lua", BROKEN)]);
    let (code, out, _) = redlua(&c.0, &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["warnings"], 1);
    assert_eq!(doc["scripts"], serde_json::json!(["lua/x.lua"]));
    let f = &doc["findings"][0];
    assert_eq!(f["file"], "lua/x.lua");
    assert_eq!(f["script"], "lua/x.lua");
    assert_eq!(f["line"], 3);
    assert_eq!(f["column"], 29);
    assert_eq!(f["severity"], "error");
    assert_eq!(f["message"], "undefined variable `usr`");
    assert_eq!(f["label"], "not found in this scope");
    assert_eq!(f["help"], "did you mean `user`?");
    assert_eq!(f["notes"], serde_json::json!([]));
    assert!(f["rendered"]
        .as_str()
        .unwrap()
        .contains("--> lua/x.lua:3:29\n"));
    assert_eq!(doc["findings"][1]["severity"], "warning");
}

#[test]
fn usage_errors_exit_2() {
    let c = TempCrate::new(&[("lua/good.lua", GOOD)]);
    let (code, _, err) = redlua(&c.0, &["check", "--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = redlua(&c.0, &["check", "Cargo.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is not inside the crate's lua/ folder"),
        "{err}"
    );
    let (code, _, err) = redlua(&c.0, &["check", "lua/missing"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open lua/missing"), "{err}");
    let (code, _, err) = redlua(&c.0.join("lua"), &["--root", "nowhere", "check"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open the crate root"), "{err}");
    let (code, _, err) = redlua(&c.0, &["show", "nope.lua"]);
    assert_eq!(code, 2);
    assert!(err.contains("no script nope.lua"), "{err}");
}

#[test]
fn servers_choose_the_dialect_like_the_manifest_does() {
    let clock = "%return float\nreturn os.clock()\n";
    let c = TempCrate::new(&[("lua/good.lua", GOOD), ("lua/clock.lua", clock)]);
    // Every server by default: `os` is missing on 6.2 and 7.0.
    let (code, out, _) = redlua(&c.0, &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("`os` is not available on redis-6.2 and redis-7.0"),
        "{out}"
    );
    let (code, out, _) = redlua(&c.0, &["--servers", "redis-8.2,valkey-9.1", "check"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = redlua(&c.0, &["--servers", "redis-7.0", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not available on redis-7.0"), "{out}");
    let (code, _, err) = redlua(&c.0, &["--servers", "redis-7", "check"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown target server `redis-7`"), "{err}");
    // The crate's manifest says the same as the flag.
    let manifest = c.0.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[package.metadata.redlua]\nservers = [\"valkey-8.1\"]\n");
    std::fs::write(&manifest, text).unwrap();
    let (code, out, _) = redlua(&c.0, &["check"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn this_repos_fixtures_fail_and_its_working_scripts_pass() {
    let (code, out, _) = redlua(&repo(), &["check", "lua"]);
    assert_eq!(code, 1, "lua/ui holds compile-fail fixtures:\n{out}");
    assert!(out.contains(" --> lua/ui/"), "{out}");

    let (code, out, _) = redlua(&repo(), &["check", "--exclude", "lua/ui"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 errors"), "{out}");
    // lib/fail.lua is included by errors/raise.lua: not a script.
    let (_, json, _) = redlua(
        &repo(),
        &["check", "--exclude", "lua/ui", "--format", "json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let scripts: Vec<&str> = doc["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(scripts.contains(&"lua/errors/raise.lua"));
    assert!(scripts.contains(&"lua/create_status.lua"));
    assert!(!scripts.contains(&"lua/lib/fail.lua"), "{scripts:?}");

    let dirs = [
        "check",
        "lua/types",
        "lua/pipeline",
        "lua/errors",
        "lua/bench",
    ];
    let (code, out, _) = redlua(&repo(), &dirs);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with(": 0 errors, 0 warnings\n"), "{out}");
}

#[test]
fn show_prints_sha_params_and_declaration() {
    let (code, out, err) = redlua(&repo(), &["show", "lua/create_status.lua"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("script: lua/create_status.lua\nsha1:   "),
        "{out}"
    );
    // The SHA1 is the one Redis computes for the printed script; computed
    // by `sha1sum` so the test does not trust the library it checks.
    let script = out.split("bytes):\n").nth(1).expect("the assembled script");
    let sha = out
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("sha1:")
        .trim();
    assert_eq!(sha1_of(script), sha);
    assert!(out.contains(
        "parameters:\n  KEYS[1]    user: &str       %key user\n  KEYS[2]    ids: &str        %key ids\n  ARGV[1..]  fields: &[&str]  %arg fields str... (variadic)\n"
    ), "{out}");
    assert!(
        out.contains("returns: %return int? -> Option<i64>\n"),
        "{out}"
    );
    assert!(out.contains(
        "Rust declaration:\n#[redis_script(\"create_status.lua\")]\npub fn create_status(user: &str, ids: &str, fields: &[&str]) -> Option<i64>;\n"
    ), "{out}");
    assert!(out.contains("local user = KEYS[1]\n"), "{out}");
    // The attribute's path, relative to lua/, works from anywhere in the crate.
    let (code, again, _) = redlua(&repo().join("lua/types"), &["show", "create_status.lua"]);
    assert_eq!(code, 0);
    assert_eq!(again, out);
}

/// The SHA1 `redis-cli SCRIPT LOAD` would print for `text`.
fn sha1_of(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha1sum (coreutils) on PATH");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..40].to_owned()
}

#[test]
fn the_printed_declarations_are_the_ones_that_compile() {
    // tests/declarations.rs (root package) holds these declarations as
    // printed and compiles them with the macro; compare without whitespace
    // and trailing commas, since rustfmt may wrap them there.
    let fold = |s: &str| {
        let s: String = s.split_whitespace().collect();
        s.replace(",)", ")")
    };
    let compiled = fold(&std::fs::read_to_string(repo().join("tests/declarations.rs")).unwrap());
    let scripts = [
        "create_status.lua",
        "types/list.lua",
        "types/dict.lua",
        "types/json.lua",
        "types/nothing.lua",
        "types/variadic.lua",
        "types/bytes.lua",
        "types/zrange_scores.lua",
        "types/hmget.lua",
    ];
    for s in scripts {
        let (code, out, err) = redlua(&repo(), &["show", s]);
        assert_eq!(code, 0, "{s}: {err}");
        let decl = out
            .split("Rust declaration:\n")
            .nth(1)
            .and_then(|r| r.split("\n\n").next())
            .unwrap_or_else(|| panic!("{s}: no declaration in\n{out}"));
        assert!(decl.starts_with(&format!("#[redis_script(\"{s}\")]\npub fn ")));
        assert!(
            compiled.contains(&fold(decl)),
            "{s}: tests/declarations.rs does not compile this declaration:\n{decl}"
        );
    }
}

#[test]
fn show_refuses_a_broken_script() {
    let c = TempCrate::new(&[("lua/x.lua", BROKEN)]);
    let (code, out, err) = redlua(&c.0, &["show", "x.lua"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains(" --> lua/x.lua:3:29\n"), "{err}");
    assert!(
        err.ends_with("error: lua/x.lua has errors; fix them to see its declaration\n"),
        "{err}"
    );
}
