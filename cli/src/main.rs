//! `redlua`: the analysis of `#[redis_script]` on the command line, for
//! CI, editors, pre-commit hooks and teams that call the same `.lua` files
//! from other languages.

mod scripts;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use redlua_script::rust_decl;
use redlua_script::{Options, ParamKind, Severity};
use serde_json::json;

use scripts::Crate;

const SCRIPT_RULE: &str = "\
Which files are scripts: every `.lua` file under the crate's `lua/` folder is \
assembled; a file that another file's `%include` reaches (directly or through \
other includes) is include-only and is checked as part of each script that \
includes it, not on its own. Every other `.lua` file is a script. Files that \
only include each other in a cycle are all scripts (so the cycle is reported). \
A file named on the command line is always checked as a script.";

/// Check Redis Lua scripts as `#[redis_script]` does, and print what the
/// macro would build from one.
#[derive(Parser, Debug)]
#[command(name = "redlua", version, about, long_about = None)]
struct Cli {
    /// The crate root (the folder holding `Cargo.toml` and `lua/`).
    /// Default: the nearest folder at or above the current one with a `Cargo.toml`.
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,

    /// The servers the scripts must run on, comma-separated, e.g.
    /// `redis-7.0,valkey-9.1` (known: redis-6.2, redis-7.0, redis-8.2,
    /// valkey-8.1, valkey-9.1). Default: the crate's `[package.metadata.redlua]
    /// servers`, as for the macro, or else all of them.
    #[arg(long, global = true, value_name = "LIST")]
    servers: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every check the macro runs on every script, print its errors and
    /// warnings, and exit 1 if there is an error (0 otherwise, 2 for usage errors).
    #[command(after_help = SCRIPT_RULE)]
    Check {
        /// Folders or files to check, inside the crate's `lua/` folder
        /// (default: all of `lua/`). Relative to the current folder.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// Leave out the scripts under this folder or file (repeatable),
        /// e.g. `--exclude lua/ui` for compile-fail fixtures. Files there
        /// still count when deciding what is include-only.
        #[arg(long, value_name = "PATH")]
        exclude: Vec<PathBuf>,

        /// `text`: diagnostics as rustc prints them and a summary line.
        /// `json`: one JSON document with every finding.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a script as the macro builds it: the assembled text sent to
    /// Redis, its SHA1, its parameters and return type with their Rust
    /// types, its flags, and a Rust declaration that fits it.
    Show {
        /// The script: a path to the file (`lua/create_status.lua`), or a
        /// path relative to `lua/` as the attribute writes it (`create_status.lua`).
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// What the analysis is told besides the script.
struct Settings {
    options: Options,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return usage(&format!("cannot read the current folder: {e}")),
    };
    let krate = match Crate::find(&cwd, cli.root.as_deref()) {
        Ok(k) => k,
        Err(e) => return usage(&e),
    };
    // The same targets as the macro: the flag, else the crate's manifest.
    let targets = match &cli.servers {
        Some(list) => {
            let ids: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            redlua_script::dialect::Targets::from_ids(&ids)
        }
        None => redlua_script::dialect::Targets::from_manifest(&krate.root.join("Cargo.toml")),
    };
    let settings = match targets {
        Ok(targets) => Settings {
            options: Options {
                targets,
                ..Options::default()
            },
        },
        Err(e) => return usage(&e),
    };
    let result = match cli.command {
        Command::Check {
            paths,
            exclude,
            format,
        } => check(&krate, &cwd, &paths, &exclude, format, &settings),
        Command::Show { file } => show(&krate, &cwd, &file, &settings),
    };
    result.unwrap_or_else(|e| usage(&e))
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn check(
    krate: &Crate,
    cwd: &Path,
    paths: &[PathBuf],
    exclude: &[PathBuf],
    format: Format,
    settings: &Settings,
) -> Result<ExitCode, String> {
    let selected = krate.select(cwd, paths, exclude)?;
    let mut errors = 0;
    let mut warnings = 0;
    let mut text = String::new();
    let mut findings_json = Vec::new();
    for script in &selected {
        let asm = match &script.asm {
            Ok(asm) => asm,
            Err(e) => {
                // The file could not be read: one error, with no location
                // but the file itself.
                errors += 1;
                text.push_str(&format!("error: {e}\n\n"));
                findings_json.push(json!({
                    "script": script.display,
                    "file": script.display,
                    "line": null,
                    "column": null,
                    "severity": "error",
                    "message": e,
                    "label": null,
                    "help": null,
                    "notes": [],
                    "rendered": e,
                }));
                continue;
            }
        };
        for f in &redlua_script::check(asm, &settings.options) {
            match f.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            let rendered = f.render(asm);
            let sev = severity_name(f.severity);
            text.push_str(&format!("{sev}: {rendered}\n\n"));
            let (line, column) = f.line_col(asm);
            let d = &f.diagnostic;
            findings_json.push(json!({
                "script": script.display,
                "file": f.path(asm),
                "line": line,
                "column": column,
                "severity": sev,
                "message": d.message,
                "label": d.label,
                "help": d.help,
                "notes": d.notes,
                "rendered": rendered,
            }));
        }
    }
    let summary = format!(
        "checked {}: {}, {}",
        plural(selected.len(), "script"),
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Text => writeln!(out, "{text}{summary}"),
        Format::Json => {
            let doc = json!({
                "root": krate.root.display().to_string(),
                "scripts": selected.iter().map(|s| s.display.as_str()).collect::<Vec<_>>(),
                "errors": errors,
                "warnings": warnings,
                "findings": findings_json,
                "summary": summary,
            });
            writeln!(out, "{doc:#}")
        }
    };
    // A closed pipe (`redlua check | head`) is not a failure of the scripts.
    let _ = written;
    Ok(ExitCode::from(u8::from(errors > 0)))
}

fn show(krate: &Crate, cwd: &Path, file: &Path, settings: &Settings) -> Result<ExitCode, String> {
    let path = krate.script_arg(cwd, file)?;
    let asm = redlua_script::load(&krate.root, &path)?;
    let findings = redlua_script::check(&asm, &settings.options);
    if findings.iter().any(|f| f.severity == Severity::Error) {
        let mut out = String::new();
        for f in &findings {
            out.push_str(&format!(
                "{}: {}\n\n",
                severity_name(f.severity),
                f.render(&asm)
            ));
        }
        eprint!("{out}");
        eprintln!("error: lua/{path} has errors; fix them to see its declaration");
        return Ok(ExitCode::from(1));
    }
    let mut s = String::new();
    s.push_str(&format!("script: {}\n", asm.files[0].display));
    s.push_str(&format!(
        "sha1:   {}\n",
        redlua_script::sha1_hex(&asm.source)
    ));
    if asm.files.len() > 1 {
        let inc: Vec<&str> = asm.files[1..].iter().map(|f| f.display.as_str()).collect();
        s.push_str(&format!("includes: {}\n", inc.join(", ")));
    }
    let flags = if asm.flags.is_empty() {
        "(none)".to_owned()
    } else {
        asm.flags.join(", ")
    };
    s.push_str(&format!("flags:  {flags}\n"));
    s.push_str("\nparameters:\n");
    if asm.params.is_empty() {
        s.push_str("  (none)\n");
    }
    let rows: Vec<[String; 3]> = asm
        .params
        .iter()
        .map(|p| {
            let slot = match (p.kind, p.variadic) {
                (ParamKind::Key, false) => format!("KEYS[{}]", p.index),
                (ParamKind::Key, true) => format!("KEYS[{}..]", p.index),
                (ParamKind::Arg(_), false) => format!("ARGV[{}]", p.index),
                (ParamKind::Arg(_), true) => format!("ARGV[{}..]", p.index),
            };
            let mut what = rust_decl::directive_text(p);
            if p.passthrough {
                what.push_str(" (pass-through: the script reads KEYS/ARGV itself)");
            } else if p.variadic {
                what.push_str(" (variadic)");
            }
            [
                slot,
                format!("{}: {}", p.name, rust_decl::param_type(p)),
                what,
            ]
        })
        .collect();
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0);
    for [a, b, c] in &rows {
        s.push_str(&format!("  {a:<w0$}  {b:<w1$}  {c}\n"));
    }
    let decl = asm.ret.as_ref().map(|r| &r.decl);
    let header = decl.map_or_else(|| "(no %return)".to_owned(), rust_decl::return_text);
    s.push_str(&format!(
        "\nreturns: {header} -> {}\n",
        rust_decl::return_type(decl)
    ));
    s.push_str(&format!(
        "\nRust declaration:\n{}\n",
        rust_decl::declaration(&asm, &path)
    ));
    s.push_str(&format!(
        "\nassembled script ({} lines, {} bytes):\n{}",
        asm.source.lines().count(),
        asm.source.len(),
        asm.source
    ));
    if !asm.source.ends_with('\n') {
        s.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
    // Warnings go to stderr: stdout ends with the assembled script, exactly
    // as sent, so it can be piped to `redis-cli -x SCRIPT LOAD`.
    for f in &findings {
        eprintln!("warning: {}\n", f.render(&asm));
    }
    Ok(ExitCode::SUCCESS)
}
