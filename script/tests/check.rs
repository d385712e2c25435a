//! The analysis through its public API, on in-memory script trees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redlua_script::{assemble, Assembled, Finding, Loader, Severity};

struct Tree(HashMap<PathBuf, String>);

impl Loader for Tree {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

fn tree(files: &[(&str, &str)]) -> Tree {
    Tree(
        files
            .iter()
            .map(|(p, t)| (Path::new("/c").join(p), t.to_string()))
            .collect(),
    )
}

fn run(files: &[(&str, &str)]) -> (Assembled, Vec<Finding>) {
    let asm = assemble::assemble(&tree(files), Path::new("/c"), files[0].0).unwrap();
    let findings = redlua_script::check(&asm, &Default::default());
    (asm, findings)
}

fn errors(asm: &Assembled, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.render(asm))
        .collect()
}

#[test]
fn a_directive_below_the_code_is_a_syntax_error_that_says_why() {
    let (asm, f) = run(&[("lua/a.lua", "%key k\nlocal v = 1\n%arg n int\nreturn v\n")]);
    let e = errors(&asm, &f);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("--> lua/a.lua:3:"), "{}", e[0]);
    assert!(e[0].contains("move the directive above"), "{}", e[0]);
    assert!(asm.params.iter().all(|p| p.name != "n"));
}

#[test]
fn a_long_string_keeps_its_percent_lines() {
    let (asm, f) = run(&[(
        "lua/a.lua",
        "%key k\nlocal t = [[\n%arg x\n]]\nreturn redis.call('GET', k) .. t\n",
    )]);
    assert!(errors(&asm, &f).is_empty(), "{:#?}", errors(&asm, &f));
    assert!(asm.source.contains("\n%arg x\n"), "{}", asm.source);
    assert_eq!(asm.params.len(), 1);
}

#[test]
fn the_percent_operator_on_a_continuation_line_is_lua() {
    let (asm, f) = run(&[(
        "lua/a.lua",
        "%key k\n%arg a int\nlocal r = a\n  % 4\nreturn redis.call('INCRBY', k, r)\n",
    )]);
    assert!(errors(&asm, &f).is_empty(), "{:#?}", errors(&asm, &f));
    assert!(asm.source.contains("\n  % 4\n"));
}

#[test]
fn a_long_comment_in_the_header_declares_nothing() {
    let (asm, f) = run(&[(
        "lua/a.lua",
        "--[[\n%key old\n]]\n%key k\nreturn redis.call('GET', k)\n",
    )]);
    assert!(errors(&asm, &f).is_empty(), "{:#?}", errors(&asm, &f));
    let names: Vec<_> = asm.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["k"]);
}

#[test]
fn header_errors_and_lua_errors_are_reported_together_with_warnings() {
    let (asm, f) = run(&[(
        "lua/a.lua",
        "%key k\n%arg n intt\n%arg unused\nlocal x = n + 1\nreturn redis.call('GET', k) .. undefined_thing\n",
    )]);
    let e = errors(&asm, &f);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].contains("unknown type `intt`"), "{}", e[0]);
    // `n` is not undefined: its directive had an error.
    assert!(
        e[1].contains("undefined variable `undefined_thing`"),
        "{}",
        e[1]
    );
    let w: Vec<_> = f
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.render(&asm))
        .collect();
    assert!(w.iter().any(|w| w.contains("`unused`")), "{w:#?}");
}

#[test]
fn pass_through_parameters_bind_nothing_and_warn_nothing() {
    let (asm, f) = run(&[(
        "lua/a.lua",
        "%keys keys\n%args argv\nlocal out = {}\nfor i = 1, #KEYS do out[i] = KEYS[i] .. (ARGV[i] or '') end\nreturn out[1] .. KEYS[3]\n",
    )]);
    assert!(
        f.is_empty(),
        "{:#?}",
        f.iter().map(|f| f.render(&asm)).collect::<Vec<_>>()
    );
    assert!(asm.params.iter().all(|p| p.passthrough && p.variadic));
    assert!(
        asm.source.starts_with("-- %keys keys\n-- %args argv\n"),
        "{}",
        asm.source
    );
}

#[test]
fn pass_through_args_take_strings_or_bytes_only() {
    let (asm, f) = run(&[("lua/a.lua", "%args argv int\nreturn ARGV[1]\n")]);
    let e = errors(&asm, &f);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("`%args` passes ARGV as it is"), "{}", e[0]);
    let (asm, f) = run(&[("lua/a.lua", "%keys k\n%key late\nreturn KEYS[1]\n")]);
    let e = errors(&asm, &f);
    assert!(!e.is_empty() && e[0].contains("late"), "{e:#?}");
}

#[test]
fn thousands_of_findings_stay_fast_and_capped() {
    // 2,000 unused %key lines took 51 s in rustc (quadratic mapping).
    let mut text: String = (0..2000).map(|i| format!("%key k{i}\n")).collect();
    text.push_str("return 1\n");
    let started = std::time::Instant::now();
    let (asm, f) = run(&[("lua/a.lua", text.as_str())]);
    let rendered: Vec<String> = f.iter().map(|f| f.render(&asm)).collect();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // 50 warnings shown, one line for the 1,950 others, and the one error:
    // 2,000 locals are more than Lua takes.
    assert_eq!(f.len(), redlua_script::check::MAX_FINDINGS + 2);
    assert!(
        rendered[0].contains("more than 200 local variables"),
        "{}",
        rendered[0]
    );
    assert!(
        rendered.last().unwrap().contains("1950 more warnings"),
        "{:?}",
        rendered.last()
    );
}

#[test]
fn thousands_of_findings_on_one_long_line_stay_fast() {
    // 4,000 undefined names on one 110 KB line: each finding was mapped back
    // to its file by a scan of the line (0.7 s), those not shown included.
    let line: Vec<String> = (0..4000)
        .map(|i| format!("local a{i} = undefined_{i}"))
        .collect();
    let text = format!("{}\n", line.join(" "));
    let started = std::time::Instant::now();
    let (asm, f) = run(&[("lua/a.lua", text.as_str())]);
    let rendered: Vec<String> = f.iter().map(|f| f.render(&asm)).collect();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    assert_eq!(f.len(), redlua_script::check::MAX_FINDINGS + 1);
    assert!(
        rendered[0].contains("undefined variable `undefined_0`"),
        "{}",
        rendered[0]
    );
    // 4,000 undefined names and the 201st local (more than Lua takes).
    assert!(
        rendered.last().unwrap().contains("3951 more errors"),
        "{:?}",
        rendered.last()
    );
}

#[test]
fn a_huge_line_is_shown_as_a_window_around_the_finding() {
    // An 80 KB line with a mistake at its end: each finding shows a window.
    let mut line = "local a = 1".to_string();
    while line.len() < 80_000 {
        line.push_str(" + 1");
    }
    line.push_str(" + nope");
    let text = format!("{line}\nreturn a\n");
    let (asm, f) = run(&[("lua/a.lua", text.as_str())]);
    let e = errors(&asm, &f);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].len() < 1000, "{} bytes", e[0].len());
    assert!(e[0].contains("...") && e[0].contains("nope"), "{}", e[0]);
    let caret_line = e[0].lines().find(|l| l.contains('^')).unwrap();
    let shown_line = e[0].lines().find(|l| l.starts_with("1 | ")).unwrap();
    assert_eq!(caret_line.find('^'), shown_line.find("nope"), "{}", e[0]);
}

fn warnings(asm: &Assembled, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.render(asm))
        .collect()
}

#[test]
fn a_script_that_writes_without_keys_warns_at_its_first_write() {
    let src = "%arg name str\n%return int\nlocal n = redis.call('GET', name)\n\
               return redis.call('INCR', name)\n";
    let (asm, f) = run(&[("lua/a.lua", src)]);
    let w = warnings(&asm, &f);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].contains("`INCR` writes, but no `%key` is declared"),
        "{}",
        w[0]
    );
    assert!(w[0].contains("--> lua/a.lua:4:"), "{}", w[0]);
    assert!(w[0].contains("flags=no-cluster"), "{}", w[0]);
    assert!(f.iter().any(Finding::is_keyless_write));
}

#[test]
fn no_keyless_write_warning_with_a_key_a_flag_or_no_write() {
    for src in [
        // A declared key routes the call.
        "%key k\n%return int\nreturn redis.call('INCR', k)\n",
        // Never on a cluster.
        "#!lua flags=no-cluster\n%arg name str\n%return int\nreturn redis.call('INCR', name)\n",
        // Reads only.
        "%arg name str\n%return int?\nreturn redis.call('GET', name)\n",
        "%return int\nreturn redis.call('DBSIZE')\n",
    ] {
        let (asm, f) = run(&[("lua/a.lua", src)]);
        assert!(!f.iter().any(Finding::is_keyless_write), "{src}");
        assert!(
            warnings(&asm, &f).is_empty(),
            "{src}: {:#?}",
            warnings(&asm, &f)
        );
    }
}

#[test]
fn a_literal_key_warning_is_the_only_cluster_warning() {
    let src = "%return int\nreturn redis.call('INCR', 'counter')\n";
    let (asm, f) = run(&[("lua/a.lua", src)]);
    let w = warnings(&asm, &f);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("key built from literals"), "{}", w[0]);
}

#[test]
fn the_keyless_write_warning_survives_the_cap_on_shown_warnings() {
    // 60 unused arguments are 60 warnings, past the 50 shown: the one the
    // runtime's cluster refusal depends on must still be there.
    let mut src = String::from("%arg name str\n");
    for i in 0..60 {
        src.push_str(&format!("%arg unused{i} str\n"));
    }
    src.push_str("%return int\nreturn redis.call('INCR', name)\n");
    let (_, f) = run(&[("lua/a.lua", &src)]);
    assert!(f.iter().any(Finding::is_keyless_write));
}

#[test]
fn a_functions_own_findings_are_capped_like_the_others() {
    // 80 reads of `_G.KEYS` (refused in a function body) after 10 undefined
    // names: 90 errors, 50 shown, one line saying how many more.
    let mut src = String::from("%key k\n%return int\n");
    for i in 0..10 {
        src.push_str(&format!("local a{i} = undefined_{i}\n"));
    }
    for i in 0..80 {
        src.push_str(&format!("local g{i} = _G.KEYS\n"));
    }
    src.push_str("return redis.call('INCR', k)\n");
    let files = [("lua/a.lua", src.as_str())];
    let asm = assemble::assemble(&tree(&files), Path::new("/c"), files[0].0).unwrap();
    let f = redlua_script::check_function(&asm, &Default::default());
    let e = errors(&asm, &f);
    assert_eq!(e.len(), redlua_script::check::MAX_FINDINGS + 1, "{e:#?}");
    assert!(e[0].contains("undefined_0"), "{}", e[0]);
    assert!(e.last().unwrap().contains("more errors"), "{:?}", e.last());
}
