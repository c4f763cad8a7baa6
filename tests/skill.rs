//! SKILL.md keeps its promises: the frontmatter follows the Agent Skills
//! specification, every path it (or a reference) names exists, every
//! `bash scripts/...` command in it runs against the demo API and exits as
//! documented, and every flag it names is in that tool's `--help`.

mod common;

use common::{DemoServer, binary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOOLS: [&str; 4] = [
    "async_requests",
    "async_file_reader",
    "async_timeout",
    "find_blocking_calls",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skill() -> String {
    std::fs::read_to_string(root().join("SKILL.md")).unwrap()
}

/// The frontmatter's `key: value` lines, and the body after it.
fn split_frontmatter(text: &str) -> (BTreeMap<String, String>, String) {
    let rest = text
        .strip_prefix("---\n")
        .expect("SKILL.md starts with --- frontmatter");
    let (front, body) = rest
        .split_once("\n---\n")
        .expect("frontmatter is closed by ---");
    let mut fields = BTreeMap::new();
    for line in front.lines() {
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not `key: value`: {line}"));
        assert!(
            !key.starts_with(' '),
            "nested YAML is not expected here: {line}"
        );
        let previous = fields.insert(key.trim().to_string(), value.trim().to_string());
        assert!(previous.is_none(), "duplicate key {key}");
    }
    (fields, body.to_string())
}

#[test]
fn frontmatter_follows_the_agent_skills_spec() {
    let (fields, body) = split_frontmatter(&skill());
    for key in fields.keys() {
        assert!(
            [
                "name",
                "description",
                "license",
                "compatibility",
                "metadata",
                "allowed-tools"
            ]
            .contains(&key.as_str()),
            "`{key}` is not a field of the Agent Skills specification"
        );
    }
    let name = &fields["name"];
    assert_eq!(name, "async-patterns");
    assert_eq!(
        name,
        env!("CARGO_PKG_NAME"),
        "the skill is named like the package"
    );
    assert!(name.len() <= 64);
    assert!(name.split('-').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }));

    let description = &fields["description"];
    assert!(
        !description.is_empty() && description.len() <= 1024,
        "{} characters",
        description.len()
    );
    assert!(!description.contains('<') && !description.contains('>'));
    let first_word = description.split_whitespace().next().unwrap();
    assert!(
        first_word.ends_with('s') && !["I", "You", "We"].contains(&first_word),
        "third person: `{first_word}`"
    );
    let lower = description.to_lowercase();
    for words in [
        "concurrent http requests",
        "many files",
        "timeouts",
        "asyncio",
        "tokio",
        "rate limit",
        "retry",
    ] {
        assert!(
            lower.contains(words),
            "the description should mention `{words}`"
        );
    }
    if let Some(compatibility) = fields.get("compatibility") {
        assert!(compatibility.len() <= 500);
    }
    let body_lines = body.lines().count();
    assert!(body_lines < 300, "SKILL.md body has {body_lines} lines");
}

/// Relative paths in backticks or markdown links: `scripts/x`, `assets/...`, (file.md).
fn named_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, piece) in text.split('`').enumerate() {
        let candidate = piece.split_whitespace().next().unwrap_or("");
        let looks_like_path = [
            "references/",
            "assets/",
            "scripts/",
            "src/",
            "tests/",
            "bench/",
            "docs/",
        ]
        .iter()
        .any(|prefix| candidate.starts_with(prefix));
        if at % 2 == 1 && looks_like_path {
            found.push(candidate.trim_end_matches([',', '.', ':', ')']).to_string());
        }
    }
    for piece in text.split("](").skip(1) {
        let target = piece.split(')').next().unwrap_or("");
        if !target.contains("://") && !target.starts_with('#') && !target.is_empty() {
            found.push(target.split('#').next().unwrap_or("").to_string());
        }
    }
    found
        .into_iter()
        .filter(|path| !path.is_empty() && !path.contains(['*', '{', '<', '$']))
        .collect()
}

#[test]
fn every_relative_path_in_skill_readme_and_references_exists() {
    let mut checked = 0;
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (name, text) in [("SKILL.md", skill()), ("README.md", readme)] {
        for path in named_paths(&text) {
            let target = root().join(&path);
            assert!(
                target.exists(),
                "{name} names `{path}`, which does not exist"
            );
            // A user who clones the repository has only what is in it.
            let inside = target
                .canonicalize()
                .is_ok_and(|target| target.starts_with(root().canonicalize().unwrap()));
            assert!(inside, "{name} names `{path}`, outside the repository");
            checked += 1;
        }
    }
    for entry in std::fs::read_dir(root().join("references")).unwrap() {
        let file = entry.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        for path in named_paths(&text) {
            let from_root = root().join(&path);
            let from_file = file.parent().unwrap().join(&path);
            assert!(
                from_root.exists() || from_file.exists(),
                "{} names `{path}`, which does not exist",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 10,
        "only {checked} paths found: is the extraction broken?"
    );
}

/// Every `bash scripts/...` line of the fenced bash blocks, with the exit
/// code its trailing `# exit N` comment documents (0 without one).
fn documented_commands(text: &str) -> Vec<(String, i32)> {
    let mut commands = Vec::new();
    let mut in_bash = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_bash = !in_bash && line.trim() == "```bash";
            continue;
        }
        let line = line.trim();
        if in_bash && line.starts_with("bash scripts/") {
            let (command, expected) = match line.split_once("# exit ") {
                Some((command, code)) => {
                    let code: i32 = code
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    (command.trim().to_string(), code)
                }
                None => (line.to_string(), 0),
            };
            commands.push((command, expected));
        }
    }
    commands
}

fn bin_dir() -> PathBuf {
    binary("demo_api").parent().unwrap().to_path_buf()
}

#[test]
fn every_command_in_skill_runs_and_exits_as_documented() {
    let server = DemoServer::start_with(&["--delay-scale", "0.1"]);
    let commands = documented_commands(&skill());
    assert!(
        commands.len() >= 12,
        "found only {} commands",
        commands.len()
    );
    let scratch = tempfile::tempdir().unwrap();
    for (command, expected) in commands {
        let output = Command::new("bash")
            .args(["-c", &command])
            .current_dir(root())
            .env("DEMO_API_URL", &server.url)
            .env("API_KEY", "skill-test-key-0123")
            .env("ASYNC_PATTERNS_BIN_DIR", bin_dir())
            .env("TMPDIR", scratch.path())
            .output()
            .unwrap();
        let code = output.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            code,
            expected,
            "`{command}` exited {code}, SKILL.md says {expected}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // A jq line prints what it selects; the tool's JSON is checked
        // by the lines without one.
        if !command.contains('>') && !command.contains("| jq") {
            let first_line = stdout.lines().next().unwrap_or("");
            assert!(
                first_line.starts_with('{'),
                "`{command}` printed something other than JSON: {first_line}"
            );
            assert!(
                !stdout.contains("skill-test-key-0123"),
                "`{command}` printed a secret"
            );
        }
    }
}

fn help_of(tool: &str) -> String {
    let output = Command::new(binary(tool)).arg("--help").output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `--flag` words in a piece of text.
fn flags_in(text: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut at = 0;
    while at + 2 < bytes.len() {
        let starts = bytes[at] == '-'
            && bytes[at + 1] == '-'
            && (at == 0 || !bytes[at - 1].is_alphanumeric() && bytes[at - 1] != '-');
        if starts && bytes[at + 2].is_ascii_lowercase() {
            let end = (at + 2..bytes.len())
                .find(|&i| !(bytes[i].is_ascii_alphanumeric() || bytes[i] == '-'))
                .unwrap_or(bytes.len());
            flags.push(bytes[at..end].iter().collect());
            at = end;
        } else {
            at += 1;
        }
    }
    flags
}

#[test]
fn every_flag_named_in_skill_is_in_that_tools_help() {
    let helps: BTreeMap<&str, String> = TOOLS.iter().map(|tool| (*tool, help_of(tool))).collect();
    let demo_api_help = help_of("demo_api");
    let (_, body) = split_frontmatter(&skill());
    let mut checked = 0;
    for section in body.split("\n## ").skip(1) {
        let heading = section.lines().next().unwrap_or("");
        let owner = TOOLS.iter().find(|tool| heading.starts_with(**tool));
        let every_tool = heading.starts_with("Options every tool has");
        for flag in flags_in(section) {
            checked += 1;
            match owner {
                Some(tool) => assert!(
                    helps[tool].contains(&flag),
                    "SKILL.md's {tool} section names {flag}, not in its --help"
                ),
                None if every_tool => {
                    for (tool, help) in &helps {
                        assert!(
                            help.contains(&flag),
                            "{flag} is said to be on every tool, but {tool} lacks it"
                        );
                    }
                }
                None => assert!(
                    helps
                        .values()
                        .chain([&demo_api_help])
                        .any(|help| help.contains(&flag)),
                    "SKILL.md names {flag}, which no tool has"
                ),
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} flags found: is the extraction broken?"
    );
}

#[test]
fn the_extractors_see_what_they_should() {
    assert_eq!(
        flags_in("use `--max-body 8KiB` or --pick, not a--b"),
        ["--max-body", "--pick"]
    );
    let commands = documented_commands(
        "```bash\nbash scripts/x a  # exit 1: why\nbash scripts/y\n```\nbash scripts/z\n",
    );
    assert_eq!(
        commands,
        [
            ("bash scripts/x a".to_string(), 1),
            ("bash scripts/y".to_string(), 0)
        ]
    );
    assert_eq!(
        named_paths("see `assets/x.json` and [guide](references/a.md#top)"),
        ["assets/x.json", "references/a.md"]
    );
    assert!(Path::new(&root()).join("SKILL.md").exists());
}
