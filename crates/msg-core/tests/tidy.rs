//! Tidy checks: the architecture of the design card, enforced as ordinary tests.
//!
//! Edges point down only: store, inbox and governor depend on core and not on each other,
//! relay depends on core alone, hooks wire everything. msg-core and msg-governor build
//! without an async runtime, not even one a dependency brings. Inside each crate the
//! modules import each other one way only (no cycle), every source file is named in
//! ARCHITECTURE.md, and no test is `#[ignore]`d.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names listed under `[dependencies]` (not dev- or build-dependencies).
fn normal_dependencies(krate: &str) -> Vec<String> {
    let manifest =
        fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim();
            deps.push(name.to_owned());
        }
    }
    deps
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn crate_edges_follow_the_design_card() {
    let allowed: &[(&str, &[&str])] = &[
        ("msg-core", &[]),
        ("msg-store", &["msg-core"]),
        ("msg-inbox", &["msg-core"]),
        ("msg-governor", &["msg-core"]),
        ("msg-relay", &["msg-core"]),
        (
            "msg-hooks",
            &[
                "msg-core",
                "msg-store",
                "msg-inbox",
                "msg-governor",
                "msg-relay",
            ],
        ),
    ];
    assert_eq!(crates(), {
        let mut names: Vec<String> = allowed.iter().map(|(n, _)| (*n).to_owned()).collect();
        names.sort();
        names
    });
    for (krate, may_use) in allowed {
        for dep in normal_dependencies(krate) {
            if dep.starts_with("msg-") {
                assert!(
                    may_use.contains(&dep.as_str()),
                    "{krate} must not depend on {dep} (ARCHITECTURE.md)"
                );
            }
        }
    }
}

/// Crates that are (or start) an async runtime or an event loop under one.
const RUNTIMES: [&str; 10] = [
    "tokio",
    "mio",
    "async-std",
    "async-executor",
    "async-io",
    "smol",
    "futures",
    "futures-executor",
    "warp",
    "hyper",
];

/// The packages `cargo tree` lists for `krate`'s normal dependencies, all the way down
/// (offline: from Cargo.lock and the local registry copy).
fn normal_dependency_tree(krate: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-f",
            "{p}",
        ])
        .args(["-p", krate, "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree -p {krate}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The runtimes among the packages of a `cargo tree` listing (`name vX.Y.Z …` per line).
fn runtimes_in(tree: &str) -> BTreeSet<String> {
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| RUNTIMES.contains(name))
        .map(str::to_owned)
        .collect()
}

#[test]
fn core_and_governor_stay_free_of_async_runtimes_all_the_way_down() {
    for krate in ["msg-core", "msg-governor"] {
        let found = runtimes_in(&normal_dependency_tree(krate));
        assert!(
            found.is_empty(),
            "{krate} must build without an async runtime, but its normal dependencies \
             bring {found:?} (`cargo tree -p {krate} -e normal -i <name>` shows the path)"
        );
    }
    // The check sees a runtime where there is one: the relay's.
    assert!(runtimes_in(&normal_dependency_tree("msg-relay")).contains("tokio"));
}

#[test]
fn every_crate_documents_itself() {
    for krate in crates() {
        let lib =
            fs::read_to_string(workspace().join("crates").join(&krate).join("src/lib.rs")).unwrap();
        assert!(
            lib.starts_with("//! "),
            "{krate}/src/lib.rs must open with a //! doc"
        );
        let readme = workspace().join("crates").join(&krate).join("README.md");
        assert!(readme.exists(), "{krate} needs a README.md");
    }
}

/// The `.rs` files below `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `path` relative to `base`, with `/` between the parts.
fn relative(path: &Path, base: &Path) -> String {
    let parts: Vec<String> = path
        .strip_prefix(base)
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// `text` with comments, string literals and character literals blanked out (line breaks
/// kept), so that only code is searched.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (i == 0 || !ident(chars[i - 1]))
            && matches!(next, Some('"' | '#'))
            && chars[i + 1..].iter().find(|&&c| c != '#') == Some(&'"')
        {
            // A raw string: r"…", r#"…"#, …
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            i += 2 + hashes;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < chars.len() && !chars[i..].starts_with(&close) {
                out.push(blank(chars[i]));
                i += 1;
            }
            i += close.len();
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The module a source file is, as a path below the crate root: `org/scan.rs` is
/// `["org", "scan"]`, `org/mod.rs` is `["org"]`, `lib.rs` is `[]`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Reads the path at `chars[*at..]` (after a `crate`, `super` or `self`, which `path`
/// holds), groups (`{a, b::c}`) included: every full path it names goes to `out`.
fn read_path(chars: &[char], at: &mut usize, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_space = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    let mut path = path;
    loop {
        skip_space(at);
        if !(chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':')) {
            out.push(path);
            return;
        }
        *at += 2;
        skip_space(at);
        match chars.get(*at) {
            Some('{') => {
                *at += 1;
                loop {
                    skip_space(at);
                    match chars.get(*at) {
                        Some('}') | None => {
                            *at += 1;
                            return;
                        }
                        Some(',') => *at += 1,
                        _ => {
                            let start = *at;
                            let word = read_word(chars, at);
                            if word.is_empty() {
                                // `*`, or something this reader does not know: the group's
                                // prefix is what it names.
                                *at = start + 1;
                                out.push(path.clone());
                                continue;
                            }
                            let mut item = path.clone();
                            if word != "self" {
                                item.push(word);
                            }
                            read_path(chars, at, item, out);
                        }
                    }
                }
            }
            _ => {
                let word = read_word(chars, at);
                if word.is_empty() {
                    out.push(path);
                    return;
                }
                path.push(word);
            }
        }
    }
}

fn read_word(chars: &[char], at: &mut usize) -> String {
    let start = *at;
    while chars
        .get(*at)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        *at += 1;
    }
    chars[start..*at].iter().collect()
}

/// The module paths the code of the file module `module` names (`crate::…`, `super::…`,
/// `self::…`, in `use` declarations and in expressions), resolved to full paths from the
/// crate root. Inline modules (`mod tests { … }`) are followed, so `super` in them means
/// the file's module.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    // Inline modules open at this brace depth.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '{' {
            depth += 1;
            at += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|(_, open)| *open > depth) {
                inline.pop();
            }
            at += 1;
            continue;
        }
        if !(c.is_alphanumeric() || c == '_') {
            at += 1;
            continue;
        }
        let before = at.checked_sub(1).map(|i| chars[i]);
        let word = read_word(&chars, &mut at);
        if before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == ':') {
            continue;
        }
        let mut base: Vec<String> = module.to_vec();
        base.extend(inline.iter().map(|(name, _)| name.clone()));
        match word.as_str() {
            "mod" => {
                let mut look = at;
                while chars.get(look).is_some_and(|c| c.is_whitespace()) {
                    look += 1;
                }
                let name = read_word(&chars, &mut look);
                while chars.get(look).is_some_and(|c| c.is_whitespace()) {
                    look += 1;
                }
                if !name.is_empty() && chars.get(look) == Some(&'{') {
                    inline.push((name, depth + 1));
                }
            }
            "crate" | "super" | "self" => {
                let mut found = Vec::new();
                read_path(&chars, &mut at, vec![word.clone()], &mut found);
                for path in found {
                    let mut resolved = match path[0].as_str() {
                        "crate" => Vec::new(),
                        "super" => base[..base.len().saturating_sub(1)].to_vec(),
                        _ => base.clone(),
                    };
                    let mut rest = path[1..].iter().peekable();
                    while rest.peek().is_some_and(|p| *p == "super") {
                        resolved.pop();
                        rest.next();
                    }
                    resolved.extend(rest.cloned());
                    out.push(resolved);
                }
            }
            _ => {}
        }
    }
    out
}

/// The imports between sibling modules of the library whose sources are in `src`: an
/// import of `a::x::y` by a file of `a::b` is the edge `b → x` between the children of
/// `a`. Each edge comes with the files that make it. Imports of a module's own ancestors or
/// descendants are not edges (a module and its parent always see each other). The
/// binaries' roots (`main.rs`, `bin/`) are not part of the library's tree.
fn module_edges(src: &Path) -> BTreeMap<(Vec<String>, Vec<String>), BTreeSet<String>> {
    let files: Vec<(String, Vec<String>)> = rust_files(src)
        .iter()
        .map(|path| relative(path, src))
        .filter(|file| file != "main.rs" && !file.starts_with("bin/"))
        .map(|file| {
            let module = module_of(&file);
            (file, module)
        })
        .collect();
    let modules: BTreeSet<&Vec<String>> = files.iter().map(|(_, m)| m).collect();
    let mut edges: BTreeMap<(Vec<String>, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for (file, module) in &files {
        let code = code_only(&fs::read_to_string(src.join(file)).unwrap());
        for mut target in named_paths(module, &code) {
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == module.len() || shared == target.len() {
                continue;
            }
            edges
                .entry((module[..=shared].to_vec(), target[..=shared].to_vec()))
                .or_default()
                .insert(file.clone());
        }
    }
    edges
}

/// The cycles among sibling modules (strongly connected sets of more than one), each
/// sorted, with the edges inside it and the files that make them.
fn module_cycles(src: &Path) -> Vec<(Vec<String>, Vec<String>)> {
    let edges = module_edges(src);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph
            .entry(from.join("::"))
            .or_default()
            .insert(to.join("::"));
        graph.entry(to.join("::")).or_default();
    }
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(node) = todo.pop() {
            for next in &graph[&node] {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reach(node))).collect();
    let mut cycles: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut placed = BTreeSet::new();
    for node in graph.keys() {
        if placed.contains(node) || !reaches[node].contains(node) {
            continue;
        }
        let members: Vec<String> = graph
            .keys()
            .filter(|other| reaches[node].contains(*other) && reaches[*other].contains(node))
            .cloned()
            .collect();
        placed.extend(members.iter().cloned());
        let inside: Vec<String> = edges
            .iter()
            .filter(|((from, to), _)| {
                members.contains(&from.join("::")) && members.contains(&to.join("::"))
            })
            .map(|((from, to), files)| {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                format!(
                    "{} -> {} ({})",
                    from.join("::"),
                    to.join("::"),
                    files.join(", ")
                )
            })
            .collect();
        cycles.push((members, inside));
    }
    cycles
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut problems = Vec::new();
    for krate in crates() {
        let src = workspace().join("crates").join(&krate).join("src");
        for (members, edges) in module_cycles(&src) {
            problems.push(format!(
                "{krate}: {} import each other: {}",
                members.join(", "),
                edges.join("; ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles (an import of a sibling that imports back; move what both need below \
         both):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle_through_super_and_groups() {
    let dir = assert_fs::TempDir::new().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("wing")).unwrap();
    let write = |file: &str, text: &str| fs::write(src.join(file), text).unwrap();
    write("lib.rs", "mod wing;\nmod other;\n");
    write("other.rs", "pub(crate) fn f() {}\n");
    write(
        "wing/mod.rs",
        "mod a;\nmod b;\nuse self::a::A; // a parent sees its children\n",
    );
    write(
        "wing/a.rs",
        "use super::{b::B, super::other};\n/* crate::wing::c */\npub(crate) struct A;\n",
    );
    write(
        "wing/b.rs",
        "pub(crate) struct B;\nfn g() { let _ = \"crate::other\"; crate::wing::a::A; }\n\
         mod tests { use super::super::a; }\n",
    );
    let cycles = module_cycles(src);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].0, ["wing::a", "wing::b"]);
    let edges = module_edges(src);
    assert!(edges.contains_key(&(vec!["wing".into()], vec!["other".into()])));
    // Nothing from comments or strings, nothing between a module and its parent.
    assert_eq!(edges.len(), 3, "{edges:?}");
}

/// The section of ARCHITECTURE.md about `krate`: from its `### \`crates/<krate>\`` heading
/// to the next heading of level 2 or 3.
fn architecture_section(architecture: &str, krate: &str) -> String {
    let heading = format!("### `crates/{krate}`");
    let mut lines = architecture
        .lines()
        .skip_while(|line| line.trim_end() != heading);
    let mut section: Vec<&str> = lines.next().into_iter().collect();
    section.extend(lines.take_while(|line| !line.starts_with("## ") && !line.starts_with("### ")));
    section.join("\n")
}

/// The files of `src` its crate's ARCHITECTURE.md section does not name.
fn unnamed_files(section: &str, src: &Path) -> Vec<String> {
    rust_files(src)
        .iter()
        .map(|path| relative(path, src))
        .filter(|file| {
            let dir = file.strip_suffix("mod.rs");
            !section.contains(&format!("`{file}`"))
                && !dir.is_some_and(|dir| section.contains(&format!("`{dir}`")))
        })
        .collect()
}

#[test]
fn every_source_file_is_named_in_the_architecture() {
    let architecture = fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for krate in crates() {
        let section = architecture_section(&architecture, &krate);
        assert!(
            !section.is_empty(),
            "ARCHITECTURE.md has no section ### `crates/{krate}`"
        );
        let src = workspace().join("crates").join(&krate).join("src");
        missing.extend(
            unnamed_files(&section, &src)
                .into_iter()
                .map(|file| format!("crates/{krate}/src/{file}")),
        );
    }
    assert!(
        missing.is_empty(),
        "not named in their crate's section of ARCHITECTURE.md (write each as `path/below/src.rs`, \
         a directory's mod.rs also as `dir/`): {missing:?}"
    );
}

#[test]
fn no_test_is_ignored() {
    let needle = concat!("#[", "ignore");
    let mut found = Vec::new();
    for krate in crates() {
        let dir = workspace().join("crates").join(&krate);
        for sub in ["src", "tests", "benches"] {
            for file in rust_files(&dir.join(sub)) {
                let code = code_only(&fs::read_to_string(&file).unwrap());
                if code.contains(needle) {
                    found.push(relative(&file, &workspace()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "#[ignore] in {found:?}: a test that does not run is not a test; a helper process \
         gets a binary of its own (`harness = false`, see crates/msg-store/tests/multiprocess.rs)"
    );
}
